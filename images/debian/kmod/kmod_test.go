package kmod

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

func TestReadInfo(t *testing.T) {
	info, err := ReadInfo(bytes.NewReader(fakearchive.Module("virtio-pci", "virtio_ring", "virtio-pci-modern-dev")))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Name: "virtio_pci", Depends: []string{"virtio_ring", "virtio_pci_modern_dev"}}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("ReadInfo (-want +got):\n%s", diff)
	}
	if info, err := ReadInfo(bytes.NewReader(fakearchive.Module("loop"))); err != nil || info.Depends != nil {
		t.Errorf("ReadInfo(no depends) = %+v, %v", info, err)
	}
	if _, err := ReadInfo(bytes.NewReader([]byte("not elf"))); !errors.Is(err, ErrNotModule) {
		t.Errorf("ReadInfo(garbage) error = %v, want ErrNotModule", err)
	}
}

func TestNameFromPath(t *testing.T) {
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"kernel/drivers/virtio/virtio_pci.ko", "virtio_pci", true},
		{"x/vmw-vsock-virtio-transport.ko.xz", "vmw_vsock_virtio_transport", true},
		{"x/loop.ko.zst", "loop", true},
		{"x/loop.ko.gz", "loop", true},
		{"x/.ko", "", false},
		{"x/modules.builtin", "", false},
		{"x/loop.o", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := NameFromPath(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NameFromPath(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDecompress(t *testing.T) {
	plain := fakearchive.Module("fuse")
	var xzb, zb, gzb bytes.Buffer
	xw, _ := xz.NewWriter(&xzb)
	xw.Write(plain)
	xw.Close()
	zw, _ := zstd.NewWriter(&zb)
	zw.Write(plain)
	zw.Close()
	gw := gzip.NewWriter(&gzb)
	gw.Write(plain)
	gw.Close()
	for name, data := range map[string][]byte{"fuse.ko": plain, "fuse.ko.xz": xzb.Bytes(), "fuse.ko.zst": zb.Bytes(), "fuse.ko.gz": gzb.Bytes()} {
		t.Run(name, func(t *testing.T) {
			rc, err := Decompress(name, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("Decompress(%s) = %d bytes, %v; want the plain module", name, len(got), err)
			}
		})
	}
	if _, err := Decompress("fuse.ko.bz2", bytes.NewReader(nil)); !errors.Is(err, ErrNotModule) {
		t.Errorf("Decompress(.bz2) error = %v", err)
	}
}

// bookwormDeps is the dependency graph of Debian 12's cloud kernel for the
// modules the build VM loads (from their modinfo).
var bookwormDeps = map[string][]string{
	"virtio": nil, "virtio_ring": {"virtio"},
	"virtio_pci_legacy_dev": nil, "virtio_pci_modern_dev": nil,
	"virtio_pci":     {"virtio_pci_modern_dev", "virtio_ring", "virtio", "virtio_pci_legacy_dev"},
	"virtio_mmio":    {"virtio", "virtio_ring"},
	"virtio_console": {"virtio", "virtio_ring"},
	"fuse":           nil, "virtiofs": {"fuse", "virtio", "virtio_ring"},
	"virtio_blk": {"virtio", "virtio_ring"},
}

func TestOrder(t *testing.T) {
	roots := []string{"virtio", "virtio_ring", "virtio_pci", "virtio_mmio", "virtio_console", "fuse", "virtiofs", "virtio_blk"}
	got, err := Order(roots, bookwormDeps, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The order NOTES.md records as working for bookworm.
	want := []string{"virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
		"virtio_mmio", "virtio_console", "fuse", "virtiofs", "virtio_blk"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
	assertDepsFirst(t, got, bookwormDeps)
}

func TestOrderCases(t *testing.T) {
	tests := []struct {
		name    string
		roots   []string
		deps    map[string][]string
		builtin map[string]bool
		want    []string
		wantErr error
	}{
		{"builtin dropped", []string{"virtiofs"}, map[string][]string{"virtiofs": {"fuse", "virtio"}}, map[string]bool{"fuse": true, "virtio": true}, []string{"virtiofs"}, nil},
		{"reverse roots", []string{"b", "a"}, map[string][]string{"a": nil, "b": {"a"}}, nil, []string{"a", "b"}, nil},
		{"cycle", []string{"a"}, map[string][]string{"a": {"b"}, "b": {"a"}}, nil, nil, ErrCycle},
		{"missing dep", []string{"a"}, map[string][]string{"a": {"b"}}, nil, nil, ErrMissing},
		{"missing root", []string{"x"}, map[string][]string{}, nil, nil, ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Order(tt.roots, tt.deps, tt.builtin)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Order error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Order (-want +got):\n%s", diff)
			}
		})
	}
}

func assertDepsFirst(t *testing.T, order []string, deps map[string][]string) {
	t.Helper()
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, m := range order {
		for _, d := range deps[m] {
			if pos[d] > pos[m] {
				t.Errorf("%s comes before its dependency %s", m, d)
			}
		}
	}
}

func TestBuiltin(t *testing.T) {
	set, err := ParseBuiltin(strings.NewReader("kernel/fs/ext4/ext4.ko\nkernel/drivers/virtio/virtio.ko\n\n"))
	if err != nil || !set["ext4"] || !set["virtio"] || len(set) != 2 {
		t.Errorf("ParseBuiltin = %v, %v", set, err)
	}
	cfg := "CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=m\n# CONFIG_SQUASHFS is not set\nCONFIG_FUSE_FS=y\nCONFIG_VIRTIO_FS=y\n"
	set, err = BuiltinFromConfig(strings.NewReader(cfg))
	want := map[string]bool{"virtio": true, "virtio_ring": true, "fuse": true, "virtiofs": true}
	if err != nil || !cmp.Equal(set, want) {
		t.Errorf("BuiltinFromConfig = %v, %v; want %v", set, err, want)
	}
}

func FuzzReadInfo(f *testing.F) {
	f.Add(fakearchive.Module("a", "b", "c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ReadInfo(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, d := range info.Depends {
			if d == "" || strings.Contains(d, ",") {
				t.Fatalf("bad dependency %q", d)
			}
		}
	})
}
