package deb

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// walkDigest lists what Walk sees of deb: each entry's cleaned name, type,
// mode, owner, link target and the digest of its content.
func walkDigest(deb []byte) ([]string, error) {
	var out []string
	err := Walk(bytes.NewReader(deb), func(hdr *tar.Header, r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s\x00%c %q %o %d:%d %x", hdr.Name, hdr.Typeflag, hdr.Linkname, hdr.Mode, hdr.Uid, hdr.Gid, h.Sum(nil)))
		return nil
	})
	return out, err
}

// FuzzDeb feeds the .deb reader what an archive mirror or a tampered cache
// could hand it. It must never panic; it fails only with ErrFormat or
// ErrUnsafePath (or a decompressor's error wrapped in ErrFormat); every
// name it hands on is relative and stays inside the tree; and the
// uncompressed copy that deb.install gives dpkg is the same package: the
// same control files and the same data entries.
func FuzzDeb(f *testing.F) {
	f.Add(sampleDeb(f))
	v := [2]string{"debian-binary", version}
	f.Add(makeDeb(f, v, [2]string{"control.tar", makeTar(f, file{name: "./control", body: "Package: a\n"})},
		[2]string{"data.tar", makeTar(f, file{name: "./a/../../b"})}))
	f.Add(makeDeb(f, v, [2]string{"data.tar.xz", xzString(f, makeTar(f, file{name: "/abs"}))}))
	f.Add([]byte("!<arch>\n"))
	f.Fuzz(func(t *testing.T, deb []byte) {
		entries, werr := walkDigest(deb)
		if werr != nil && !errors.Is(werr, ErrFormat) && !errors.Is(werr, ErrUnsafePath) {
			t.Fatalf("Walk: untyped error %v", werr)
		}
		for _, e := range entries {
			name := strings.SplitN(e, "\x00", 2)[0]
			if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || path.Clean(name) != name {
				t.Fatalf("Walk handed on %q", name)
			}
		}
		ctl, cerr := ReadControl(bytes.NewReader(deb))
		var plain bytes.Buffer
		if err := WriteUncompressed(bytes.NewReader(deb), &plain); err != nil {
			return
		}
		if cerr == nil {
			again, err := ReadControl(bytes.NewReader(plain.Bytes()))
			if err != nil {
				t.Fatalf("the uncompressed copy's control does not read: %v", err)
			}
			if d := cmp.Diff(ctl.Files, again.Files); d != "" {
				t.Fatalf("control files changed (-orig +uncompressed):\n%s", d)
			}
		}
		if werr == nil {
			again, err := walkDigest(plain.Bytes())
			if err != nil || !slices.Equal(entries, again) {
				t.Fatalf("the uncompressed copy's data differs (err %v)", err)
			}
		}
	})
}
