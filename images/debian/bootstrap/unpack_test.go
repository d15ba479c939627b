package bootstrap

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// ent is a data.tar entry: "d ./usr/", "f ./usr/bin/sh body", "l ./bin usr/bin",
// "h ./usr/bin/b ./usr/bin/a".
type ent string

func tarEntries(t *testing.T, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		f := strings.SplitN(string(e), " ", 3)
		h := &tar.Header{Name: f[1], Mode: 0o755, ModTime: time.Unix(1600000000, 0), Uid: 0, Gid: 0}
		body := ""
		switch f[0] {
		case "d":
			h.Typeflag = tar.TypeDir
		case "f":
			h.Typeflag, h.Mode = tar.TypeReg, 0o644
			if len(f) > 2 {
				body = f[2]
			}
			h.Size = int64(len(body))
		case "l":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f[2]
		case "h":
			h.Typeflag, h.Linkname = tar.TypeLink, f[2]
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	return buf.Bytes()
}

// writeDeb writes a .deb with the control fields and data entries.
func writeDeb(t *testing.T, dir, control string, ents ...ent) string {
	t.Helper()
	ctl := fakearchive.Tar(t, map[string][]byte{"./control": []byte(control)})
	deb := fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", string(ctl)},
		[2]string{"data.tar", string(tarEntries(t, ents...))})
	name := strings.Fields(control)[1]
	p := filepath.Join(dir, name+".deb")
	if err := os.WriteFile(p, deb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func listing(t *testing.T, archive []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprintf("%c %s", h.Typeflag, h.Name)
		if h.Linkname != "" {
			s += " -> " + h.Linkname
		}
		out = append(out, s)
	}
}

func essentialArchive(t *testing.T, debs ...string) ([]byte, error) {
	pkgs, err := ReadPackages(debs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = WriteEssential(context.Background(), &buf, pkgs, time.Unix(1700000000, 0))
	return buf.Bytes(), err
}

// TestWriteEssentialMergedUsr: base-files' /bin -> usr/bin link survives a
// later package's ./bin/ entry, that package's files land in /usr/bin,
// and a hard link through the link is resolved too; a package outside
// the essential set is not unpacked.
func TestWriteEssentialMergedUsr(t *testing.T) {
	dir := t.TempDir()
	debs := []string{
		writeDeb(t, dir, "Package: base-files\nVersion: 1\nArchitecture: arm64\nEssential: yes\n",
			"d ./", "d ./usr/", "d ./usr/bin/", "l ./bin usr/bin"),
		writeDeb(t, dir, "Package: dpkg\nVersion: 1\nArchitecture: arm64\nEssential: yes\nDepends: libc6\n",
			"d ./", "d ./bin/", "f ./bin/dpkg ELF", "h ./bin/dpkg-hard ./bin/dpkg"),
		writeDeb(t, dir, "Package: libc6\nVersion: 1\nArchitecture: arm64\n", "d ./", "d ./lib/", "f ./lib/libc.so x"),
		writeDeb(t, dir, "Package: apt\nVersion: 1\nArchitecture: arm64\n", "d ./", "f ./apt x"),
	}
	archive, err := essentialArchive(t, debs...)
	if err != nil {
		t.Fatal(err)
	}
	got := listing(t, archive)
	i := 0
	for i < len(got) && !strings.HasPrefix(got[i], "5 ./dev/") && got[i] != "2 ./dev/fd -> /proc/self/fd" {
		i++
	}
	for i < len(got) && strings.Contains(got[i], "./dev/") {
		i++
	}
	want := []string{
		"5 ./", "5 ./usr/", "5 ./usr/bin/", "2 ./bin -> usr/bin",
		"5 ./", "0 ./usr/bin/dpkg", "1 ./usr/bin/dpkg-hard -> ./usr/bin/dpkg",
		"5 ./", "5 ./lib/", "0 ./lib/libc.so",
	}
	var data []string
	for _, e := range got[i:] {
		if !strings.Contains(e, "./var/lib/dpkg/") {
			data = append(data, e)
		}
	}
	if d := cmp.Diff(want, data); d != "" {
		t.Errorf("package entries (-want +got):\n%s\nwhole archive: %q", d, got)
	}
	for _, w := range []string{"0 ./var/lib/dpkg/status", "0 ./var/lib/dpkg/arch", "0 ./etc/fstab", "3 ./dev/null", "5 ./tmp/"} {
		if !contains(got, w) {
			t.Errorf("archive lacks %q", w)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestWriteEssentialArchFile(t *testing.T) {
	dir := t.TempDir()
	deb := writeDeb(t, dir, "Package: dpkg\nVersion: 1\nArchitecture: riscv64\nEssential: yes\n", "d ./")
	archive, err := essentialArchive(t, deb)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no arch file: %v", err)
		}
		if h.Name == "./var/lib/dpkg/arch" {
			b, _ := io.ReadAll(tr)
			if string(b) != "riscv64\n" {
				t.Errorf("arch = %q", b)
			}
			return
		}
	}
}

func TestWriteEssentialRefuses(t *testing.T) {
	tests := map[string][]ent{
		"symlink loop":           {"l ./a b", "l ./b a", "f ./a/x"},
		"file as a parent":       {"f ./a x", "f ./a/b y"},
		"file over a directory":  {"d ./a/", "f ./a"},
		"hard link to nothing":   {"h ./a ./missing"},
		"hard link to directory": {"d ./d/", "h ./a ./d"},
	}
	for name, ents := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			deb := writeDeb(t, dir, "Package: dpkg\nVersion: 1\nArchitecture: arm64\nEssential: yes\n", ents...)
			if _, err := essentialArchive(t, deb); !errors.Is(err, ErrUnpack) {
				t.Errorf("err = %v, want ErrUnpack", err)
			}
		})
	}
}

func TestWriteEssentialDotDotStaysInside(t *testing.T) {
	dir := t.TempDir()
	deb := writeDeb(t, dir, "Package: dpkg\nVersion: 1\nArchitecture: arm64\nEssential: yes\n",
		"l ./up ../../..", "d ./up/etc/", "f ./up/etc/x y")
	archive, err := essentialArchive(t, deb)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range listing(t, archive) {
		if name, _, _ := strings.Cut(e, " -> "); strings.Contains(name, "..") {
			t.Errorf("entry leaves the tree: %s", e)
		}
	}
	if got := listing(t, archive); !contains(got, "0 ./etc/x") {
		t.Errorf("./up/etc/x should land at ./etc/x (.. stops at the root): %q", got)
	}
}
