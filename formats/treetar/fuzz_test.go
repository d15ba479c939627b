package treetar

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/internal/escapetest"
)

// seeds are archives that aim at the sentinels escapetest puts around the
// destination (a/b/dest below the area's root), plus ordinary trees.
func seeds(f *testing.F) {
	f.Add(archive(f, reg("a", "x"), sym("l", "/"), reg("l/x", "y")))
	f.Add(archive(f, entry{tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, ""}, reg("d/f", "z")))
	f.Add(archive(f, reg("../sibling", "boom")))
	f.Add(archive(f, reg("../../../outside/secret", "boom")))
	f.Add(archive(f, sym("up", "../up"), reg("up/secret", "boom")))
	f.Add(archive(f, sym("o", "../../../outside"), reg("o/secret", "boom")))
	f.Add(archive(f, entry{tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../../outside/secret"}, ""}, reg("h", "boom")))
	f.Add(archive(f, sym("o", "../../../outside"), entry{tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "o/secret"}, ""}))
	f.Add(archive(f, sym("s", "../sibling"), reg("s", "replaced, not written through")))
	f.Add(archive(f,
		entry{tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, ""},
		entry{tar.Header{Name: "ro/", Typeflag: tar.TypeDir, Mode: 0o555}, ""},
		entry{tar.Header{Name: "ro/su", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 0, PAXRecords: map[string]string{
			xattrPrefix + "security.capability": string(capNetRaw), xattrPrefix + "user.a": "b"}}, "elf"},
		entry{tar.Header{Name: "ro/su2", Typeflag: tar.TypeLink, Linkname: "ro/su"}, ""},
		entry{tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}, ""},
		entry{tar.Header{Name: "null2", Typeflag: tar.TypeLink, Linkname: "null"}, ""},
		entry{tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600}, ""},
	))
}

// FuzzUnpack is the guest's reader (tree.open): every owner, node and
// xattr restored, or an error.
func FuzzUnpack(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnpack(t, data, Options{Owners: os.Geteuid() == 0})
	})
}

// FuzzExport is the host's reader of what the guest hands back, as
// exports run it: as root (owners kept, what the output's file system
// refuses counted) and as a plain user would (owners, device nodes and
// setuid bits left out and counted).
func FuzzExport(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnpack(t, data, Options{Owners: os.Geteuid() == 0, Lossy: true})
		checkUnpack(t, data, Options{Lossy: true})
	})
}

// checkUnpack asserts the properties Unpack exists for: nothing written
// outside the destination, whatever data holds; and when data unpacks,
// the tree it gave is archived and read back to the same bytes
// (Pack(Unpack(Pack(t))) == Pack(t)).
func checkUnpack(t *testing.T, data []byte, opts Options) {
	area := escapetest.New(t)
	_, err := Unpack(context.Background(), bytes.NewReader(data), area.Dest, opts)
	area.Check(t)
	if err != nil {
		return
	}
	first := packTree(t, area.Dest)
	again := filepath.Join(t.TempDir(), "again")
	if err := os.Mkdir(again, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Unpack(context.Background(), bytes.NewReader(first), again, opts); err != nil {
		t.Fatalf("a packed tree does not unpack: %v", err)
	}
	if second := packTree(t, again); !bytes.Equal(first, second) {
		t.Fatalf("round trip differs:\n%q\n%q", entryList(first), entryList(second))
	}
}

func packTree(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Pack(context.Background(), dir, &buf); err != nil {
		t.Fatalf("pack %s: %v", dir, err)
	}
	return buf.Bytes()
}

// entryList describes an archive's headers, for a readable failure.
func entryList(data []byte) []string {
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		out = append(out, h.Name+" "+string(h.Typeflag)+" "+h.Linkname+" "+h.FileInfo().Mode().String()+" "+h.ModTime.String())
	}
	return out
}
