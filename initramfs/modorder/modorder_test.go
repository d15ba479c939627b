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
		want []Entry
	}{
		{"empty", "", nil},
		{"one", "virtio\n", []Entry{{Name: "virtio"}}},
		{"no trailing newline", "virtio\nfuse", []Entry{{Name: "virtio"}, {Name: "fuse"}}},
		{"comments and blanks", "# load order\n\nvirtio_pci\n  fuse  \n", []Entry{{Name: "virtio_pci"}, {Name: "fuse"}}},
		{"deps", "virtio\nfuse\nvirtiofs fuse  virtio\n", []Entry{{Name: "virtio"}, {Name: "fuse"}, {Name: "virtiofs", Deps: []string{"fuse", "virtio"}}}},
		{"dash", "vmw-vsock\n", []Entry{{Name: "vmw-vsock"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
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
	entries := []Entry{{Name: "virtio"}, {Name: "virtio_ring"}, {Name: "virtio_pci", Deps: []string{"virtio", "virtio_ring"}}, {Name: "fuse"}}
	data, err := Format(entries)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "virtio\nvirtio_ring\nvirtio_pci virtio virtio_ring\nfuse\n" {
		t.Errorf("Format = %q", data)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(entries, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"virtio", "virtio_ring", "virtio_pci", "fuse"}, Names(got)); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}

func TestFormatRefuses(t *testing.T) {
	for name, entries := range map[string][]Entry{
		"slash":      {{Name: "a/b"}},
		"empty":      {{Name: ""}},
		"twice":      {{Name: "x"}, {Name: "x"}},
		"dotdot":     {{Name: "../etc"}},
		"long":       {{Name: strings.Repeat("a", 56)}},
		"later dep":  {{Name: "a", Deps: []string{"b"}}, {Name: "b"}},
		"self dep":   {{Name: "a", Deps: []string{"a"}}},
		"bad dep":    {{Name: "a"}, {Name: "b", Deps: []string{"../a"}}},
		"absent dep": {{Name: "a", Deps: []string{"gone"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Format(entries); !errors.Is(err, ErrInvalid) {
				t.Errorf("Format(%v) = %v, want ErrInvalid", entries, err)
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
	f.Add([]byte("virtio\nfuse\nvirtiofs fuse virtio\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Format(entries)
		if err != nil {
			t.Fatalf("Format of parsed entries %v: %v", entries, err)
		}
		again, err := Parse(out)
		if err != nil || !cmp.Equal(entries, again, cmpopts.EquateEmpty()) {
			t.Fatalf("round trip: %v -> %v, %v", entries, again, err)
		}
	})
}
