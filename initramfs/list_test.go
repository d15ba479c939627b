package initramfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestList(t *testing.T) {
	archive := build(t, Spec{Init: []byte("\x7fELF init"), Modules: fakeModules(t), Epoch: epoch})
	ents, err := List(archive, true)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(ents) != 13 {
		t.Fatalf("List gave %d entries, want 13", len(ents))
	}
	if e := ents[1]; e.Name != "init" || string(e.Data) != "\x7fELF init" || e.MTime != epoch {
		t.Errorf("init entry = %+v", e)
	}
}

func TestListMalformed(t *testing.T) {
	good := build(t, Spec{Init: []byte("\x7fELF init"), Epoch: epoch})
	files, _ := filepath.Glob("testdata/bad-*.cpio")
	if len(files) == 0 {
		t.Fatal("no malformed archives in testdata")
	}
	cases := map[string][]byte{
		"truncated":  good[:len(good)-200],
		"no trailer": good[:len(good)/2],
		"empty":      nil,
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(f)] = data
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := List(data, true); !errors.Is(err, ErrMalformed) {
				t.Errorf("List = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzList(f *testing.F) {
	f.Fuzz(func(t *testing.T, archive []byte) {
		ents, err := List(archive, true)
		if err != nil {
			return
		}
		total := 0
		for _, e := range ents {
			total += len(e.Data)
		}
		if total > len(archive) {
			t.Fatalf("entries hold %d bytes from an archive of %d", total, len(archive))
		}
		if !bytes.Contains(archive, []byte("TRAILER!!!")) {
			t.Fatal("List accepted an archive without a trailer")
		}
	})
}
