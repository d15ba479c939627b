package initramfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

const epoch = 1700000000

// fakeModules returns the testdata modules (tiny ELF objects with a
// .modinfo) in load order, fuse xz-compressed into a temporary directory.
func fakeModules(t *testing.T) []Module {
	t.Helper()
	fuse, err := os.ReadFile("testdata/fuse.ko")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(fuse)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	packed := filepath.Join(t.TempDir(), "fuse.ko.xz")
	if err := os.WriteFile(packed, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return []Module{
		{Name: "virtio", Path: "testdata/virtio.ko"},
		{Name: "virtio_ring", Path: "testdata/virtio_ring.ko"},
		{Name: "fuse", Path: packed},
		{Name: "virtiofs", Path: "testdata/virtiofs.ko"},
	}
}

func content(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func build(t *testing.T, spec Spec) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, spec); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func TestWriteReproducible(t *testing.T) {
	spec := Spec{Init: []byte("\x7fELF init"), Modules: fakeModules(t), Epoch: epoch}
	a, b := build(t, spec), build(t, spec)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same spec differ")
	}
	spec.Epoch++
	if bytes.Equal(a, build(t, spec)) {
		t.Error("Epoch does not reach the archive")
	}
}

func TestWriteEntries(t *testing.T) {
	spec := Spec{Init: []byte("\x7fELF init"), Modules: fakeModules(t), Epoch: epoch}
	archive := build(t, spec)
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(archive)))
	if err != nil {
		t.Fatalf("read back with pkg/cpio: %v", err)
	}
	type ent struct {
		Name       string
		Mode       uint64
		Data       string
		Ino, UID   uint64
		MTime, GID uint64
	}
	var got []ent
	for i, r := range recs {
		e := ent{Name: r.Name, Mode: r.Mode, Ino: r.Ino, UID: r.UID, GID: r.GID, MTime: r.MTime}
		if r.Mode&cpio.S_IFMT == cpio.S_IFREG {
			data := make([]byte, r.FileSize)
			r.ReadAt(data, 0)
			e.Data = string(data)
		}
		if r.Ino != uint64(i+1) {
			t.Errorf("%s: inode %d, want %d", r.Name, r.Ino, i+1)
		}
		e.Ino = 0
		got = append(got, e)
	}
	dir := func(n string) ent { return ent{Name: n, Mode: cpio.S_IFDIR | 0o755, MTime: epoch} }
	reg := func(n, data string, perm uint64) ent {
		return ent{Name: n, Mode: cpio.S_IFREG | perm, Data: data, MTime: epoch}
	}
	want := []ent{
		dir("dev"),
		reg("init", "\x7fELF init", 0o755),
		dir("lib"),
		dir("lib/modules"),
		reg("lib/modules/fuse.ko", content(t, "testdata/fuse.ko"), 0o644),
		reg("lib/modules/order", "virtio\nvirtio_ring\nfuse\nvirtiofs fuse virtio virtio_ring\n", 0o644),
		reg("lib/modules/virtio.ko", content(t, "testdata/virtio.ko"), 0o644),
		reg("lib/modules/virtio_ring.ko", content(t, "testdata/virtio_ring.ko"), 0o644),
		reg("lib/modules/virtiofs.ko", content(t, "testdata/virtiofs.ko"), 0o644),
		dir("proc"), dir("run"), dir("sys"), dir("tmp"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive entries (-want +got):\n%s", diff)
	}
}

func TestWriteRefuses(t *testing.T) {
	mods := fakeModules(t)
	bad := filepath.Join(t.TempDir(), "bad.ko")
	os.WriteFile(bad, []byte("not elf"), 0o644)
	tests := []struct {
		name string
		spec Spec
	}{
		{"no init", Spec{Modules: mods}},
		{"negative epoch", Spec{Init: []byte("x"), Epoch: -1}},
		{"epoch past 2106", Spec{Init: []byte("x"), Epoch: 1 << 33}},
		{"bad name", Spec{Init: []byte("x"), Modules: []Module{{Name: "../x", Path: mods[0].Path}}}},
		{"duplicate", Spec{Init: []byte("x"), Modules: []Module{mods[0], mods[0]}}},
		{"not elf", Spec{Init: []byte("x"), Modules: []Module{{Name: "bad", Path: bad}}}},
		{"dependency listed later", Spec{Init: []byte("x"), Modules: []Module{mods[3], mods[0], mods[1], mods[2]}}},
		{"unknown suffix", Spec{Init: []byte("x"), Modules: []Module{{Name: "m", Path: bad + ".bz2"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.spec)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Write = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestWriteMissingModule(t *testing.T) {
	spec := Spec{Init: []byte("x"), Modules: []Module{{Name: "gone", Path: "/nonexistent/gone.ko"}}}
	if err := Write(&bytes.Buffer{}, spec); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Write = %v, want ErrNotExist", err)
	}
}
