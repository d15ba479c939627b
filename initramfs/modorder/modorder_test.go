package modorder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one", "virtio\n", []string{"virtio"}},
		{"no trailing newline", "virtio\nfuse", []string{"virtio", "fuse"}},
		{"comments and blanks", "# load order\n\nvirtio_pci\n  fuse  \n", []string{"virtio_pci", "fuse"}},
		{"dash", "vmw-vsock\n", []string{"vmw-vsock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no malformed inputs in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(data); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParseTooMany(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= MaxNames; i++ {
		fmt.Fprintf(&b, "m%d\n", i)
	}
	if _, err := Parse([]byte(b.String())); !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse of %d names = %v, want ErrInvalid", MaxNames+1, err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	names := []string{"virtio", "virtio_ring", "virtio_pci", "fuse", "virtiofs"}
	data, err := Format(names)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "virtio\nvirtio_ring\nvirtio_pci\nfuse\nvirtiofs\n" {
		t.Errorf("Format = %q", data)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestFormatRefuses(t *testing.T) {
	for _, names := range [][]string{{"a/b"}, {""}, {"x", "x"}, {"../etc"}, {strings.Repeat("a", 56)}} {
		t.Run(strings.Join(names, ","), func(t *testing.T) {
			if _, err := Format(names); !errors.Is(err, ErrInvalid) {
				t.Errorf("Format(%q) = %v, want ErrInvalid", names, err)
			}
		})
	}
}

func TestFile(t *testing.T) {
	if got := File("virtio_pci"); got != "/lib/modules/virtio_pci.ko" {
		t.Errorf("File = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("virtio\nfuse\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Format(names)
		if err != nil {
			t.Fatalf("Format of parsed names %q: %v", names, err)
		}
		again, err := Parse(out)
		if err != nil || !cmp.Equal(names, again, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip: %q -> %q, %v", names, again, err)
		}
	})
}
