package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/blakesmith/ar"
	"github.com/google/go-cmp/cmp"
)

func members(t *testing.T, deb []byte) []string {
	t.Helper()
	var names []string
	r := ar.NewReader(bytes.NewReader(deb))
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func walkAll(t *testing.T, deb []byte) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := Walk(bytes.NewReader(deb), func(h *tar.Header, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[h.Name] = string(h.Typeflag) + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWriteUncompressed: the repacked package has plain members, the same
// control archive and the same data, and is the same bytes every time.
func TestWriteUncompressed(t *testing.T) {
	in := sampleDeb(t)
	var out, again bytes.Buffer
	if err := WriteUncompressed(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if err := WriteUncompressed(bytes.NewReader(in), &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), again.Bytes()) {
		t.Error("two repacks differ")
	}
	if d := cmp.Diff([]string{"debian-binary", "control.tar", "data.tar"}, members(t, out.Bytes())); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	c1, err := ReadControl(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ReadControl(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(c1, c2); d != "" {
		t.Errorf("control (-orig +repacked):\n%s", d)
	}
	if d := cmp.Diff(walkAll(t, in), walkAll(t, out.Bytes())); d != "" {
		t.Errorf("data (-orig +repacked):\n%s", d)
	}
}

func TestWriteUncompressedRefusesBadInput(t *testing.T) {
	v := [2]string{"debian-binary", version}
	for name, deb := range map[string][]byte{
		"not a deb":    []byte("hello"),
		"corrupt xz":   makeDeb(t, v, [2]string{"control.tar.xz", "junk"}, [2]string{"data.tar", ""}),
		"no data":      makeDeb(t, v, [2]string{"control.tar", makeTar(t, file{name: "./control", body: "Package: a\n"})}),
		"unknown comp": makeDeb(t, v, [2]string{"control.tar.lz", "x"}),
	} {
		t.Run(name, func(t *testing.T) {
			if err := WriteUncompressed(bytes.NewReader(deb), io.Discard); !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}
