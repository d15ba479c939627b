package fakearchive

import (
	"archive/tar"
	"bytes"
	"sort"
	"testing"

	"github.com/blakesmith/ar"
)

// BuildDeb assembles a .deb whose data.tar.xz holds files (name ->
// content; names as dpkg writes them, e.g. "./boot/vmlinuz-1").
func BuildDeb(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := ar.NewWriter(&out)
	if err := w.WriteGlobalHeader(); err != nil {
		t.Fatalf("ar: %v", err)
	}
	addMember(t, w, "debian-binary", []byte("2.0\n"))
	addMember(t, w, "control.tar.xz", compressXZ(t, tarOf(t, map[string][]byte{"./control": []byte("Package: x\n")})))
	addMember(t, w, "data.tar.xz", compressXZ(t, tarOf(t, files)))
	return out.Bytes()
}

// BuildDebRaw writes an ar archive with the given members, in order, for
// malformed-package tests.
func BuildDebRaw(t testing.TB, members ...[2]string) []byte {
	t.Helper()
	var out bytes.Buffer
	w := ar.NewWriter(&out)
	if err := w.WriteGlobalHeader(); err != nil {
		t.Fatalf("ar: %v", err)
	}
	for _, m := range members {
		addMember(t, w, m[0], []byte(m[1]))
	}
	return out.Bytes()
}

// Tar returns an uncompressed tar of files, names sorted.
func Tar(t testing.TB, files map[string][]byte) []byte { return tarOf(t, files) }

func addMember(t testing.TB, w *ar.Writer, name string, data []byte) {
	t.Helper()
	hdr := &ar.Header{Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: Date}
	if err := w.WriteHeader(hdr); err != nil {
		t.Fatalf("ar: %v", err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("ar: %v", err)
	}
}

func tarOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: Date, Typeflag: tar.TypeReg, Format: tar.FormatGNU}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar: %v", err)
		}
		tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	return b.Bytes()
}
