package initramfs

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDepends(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"testdata/virtio.ko", nil},
		{"testdata/fuse.ko", nil},
		{"testdata/nomodinfo.ko", nil},
		{"testdata/virtiofs.ko", []string{"fuse", "virtio", "virtio_ring", "builtin_thing"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := depends(data)
			if err != nil {
				t.Fatalf("depends: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("depends (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDependsMalformed(t *testing.T) {
	good, err := os.ReadFile("testdata/virtiofs.ko")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not elf":   []byte("hello world, not an ELF file at all......................................"),
		"truncated": good[:100],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := depends(data); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("depends = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func FuzzDepends(f *testing.F) {
	for _, name := range []string{"virtio", "virtiofs", "nomodinfo"} {
		data, err := os.ReadFile("testdata/" + name + ".ko")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		deps, err := depends(data)
		if err != nil && !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("error %v is not ErrInvalidSpec", err)
		}
		for _, d := range deps {
			if d == "" {
				t.Fatal("empty dependency name")
			}
		}
	})
}
