package bootstrap

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// files reads the regular files of an archive, by name.
func files(t *testing.T, archive []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}

// writeDebControl writes a .deb with the given control members.
func writeDebControl(t *testing.T, dir string, control map[string][]byte, ents ...ent) string {
	t.Helper()
	ctl := fakearchive.Tar(t, control)
	deb := fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", string(ctl)},
		[2]string{"data.tar", string(tarEntries(t, ents...))})
	name := strings.Fields(string(control["./control"]))[1]
	p := filepath.Join(dir, name+".deb")
	if err := os.WriteFile(p, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWriteEssentialRecordsDpkgDatabase: what dpkg --unpack records of a
// new package is in the archive: the file list in archive order, control
// members as info files, md5sums computed when a package ships none,
// conffiles again as .dpkg-new, the preinst's tmp.ci and the status
// stanza staged, and the trigger interests.
func TestWriteEssentialRecordsDpkgDatabase(t *testing.T) {
	dir := t.TempDir()
	control := "Package: dpkg\nVersion: 1.22\nArchitecture: arm64\nEssential: yes\nDescription: pkg\n  indented line\n .\n last\n"
	deb1 := writeDebControl(t, dir, map[string][]byte{
		"./control":   []byte(control),
		"./conffiles": []byte("/etc/dpkg/dpkg.cfg\n"),
		"./preinst":   []byte("#!/bin/sh\n"),
		"./triggers":  []byte("# comment\ninterest-noawait /usr/share/shells.d\ninterest ldconfig\n"),
		"./foo.bar":   []byte("dotted names are not installed"),
	}, "d ./", "d ./etc/", "d ./etc/dpkg/", "f ./etc/dpkg/dpkg.cfg conf", "d ./usr/", "f ./usr/x abc")
	deb2 := writeDebControl(t, dir, map[string][]byte{
		"./control": []byte("Package: libc6\nVersion: 2\nArchitecture: arm64\nMulti-Arch: same\nEssential: yes\n"),
		"./md5sums": []byte("shipped\n"),
	}, "d ./", "f ./usr/libc.so c")
	archive, err := essentialArchive(t, deb1, deb2)
	if err != nil {
		t.Fatal(err)
	}
	got := files(t, archive)
	sum := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	want := map[string]string{
		"./var/lib/dpkg/info/dpkg.list":                          "/.\n/etc\n/etc/dpkg\n/etc/dpkg/dpkg.cfg\n/usr\n/usr/x\n",
		"./var/lib/dpkg/info/dpkg.md5sums":                       sum("conf") + "  etc/dpkg/dpkg.cfg\n" + sum("abc") + "  usr/x\n",
		"./var/lib/dpkg/info/dpkg.conffiles":                     "/etc/dpkg/dpkg.cfg\n",
		"./var/lib/dpkg/info/dpkg.preinst":                       "#!/bin/sh\n",
		"./var/lib/dpkg/info/libc6:arm64.list":                   "/.\n/usr/libc.so\n",
		"./var/lib/dpkg/info/libc6:arm64.md5sums":                "shipped\n",
		"./etc/dpkg/dpkg.cfg.dpkg-new":                           "conf",
		"./var/lib/dpkg/osbuild-vm-unpacked/0000/tmp.ci/control": control,
		"./var/lib/dpkg/osbuild-vm-unpacked/0000/tmp.ci/preinst": "#!/bin/sh\n",
		"./var/lib/dpkg/osbuild-vm-unpacked/0000/status": "Package: dpkg\nStatus: install ok unpacked\nVersion: 1.22\n" +
			"Architecture: arm64\nEssential: yes\nDescription: pkg\n  indented line\n .\n last\nConffiles:\n /etc/dpkg/dpkg.cfg newconffile\n",
		"./var/lib/dpkg/osbuild-vm-unpacked/0001/status": "Package: libc6\nStatus: install ok unpacked\nVersion: 2\n" +
			"Architecture: arm64\nMulti-Arch: same\nEssential: yes\n",
		"./var/lib/dpkg/triggers/File":     "/usr/share/shells.d dpkg/noawait\n",
		"./var/lib/dpkg/triggers/ldconfig": "dpkg\n",
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %q (present %v), want %q", name, g, ok, w)
		}
	}
	if _, ok := got["./var/lib/dpkg/info/dpkg.foo.bar"]; ok {
		t.Error("a control member with a dot became an info file")
	}
	if _, ok := got["./var/lib/dpkg/info/dpkg.control"]; ok {
		t.Error("the control file became an info file")
	}
	var staged []string
	for name := range got {
		if strings.HasPrefix(name, "./var/lib/dpkg/osbuild-vm-unpacked/0001/tmp.ci/") {
			staged = append(staged, strings.TrimPrefix(name, "./var/lib/dpkg/osbuild-vm-unpacked/0001/tmp.ci/"))
		}
	}
	if d := cmp.Diff([]string{"control", "md5sums"}, slices.Sorted(slices.Values(staged))); d != "" {
		t.Errorf("tmp.ci of libc6 (-want +got):\n%s", d)
	}
}
