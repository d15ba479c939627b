package debfile

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

func TestWalk(t *testing.T) {
	deb := fakearchive.BuildDeb(t, map[string][]byte{"./boot/vmlinuz-1": []byte("kernel"), "./lib/modules/1/a.ko": []byte("mod")})
	got := map[string]string{}
	err := Walk(bytes.NewReader(deb), func(hdr *tar.Header, r io.Reader) error {
		data, err := io.ReadAll(r)
		got[hdr.Name] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["boot/vmlinuz-1"] != "kernel" || got["lib/modules/1/a.ko"] != "mod" || len(got) != 2 {
		t.Errorf("Walk saw %v", got)
	}
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	deb := fakearchive.BuildDeb(t, map[string][]byte{"./a": nil, "./b": nil})
	stop := errors.New("stop")
	n := 0
	err := Walk(bytes.NewReader(deb), func(*tar.Header, io.Reader) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk = %v after %d calls, want stop after 1", err, n)
	}
}

func TestWalkMalformed(t *testing.T) {
	tests := []struct {
		name string
		deb  []byte
		want error
	}{
		{"not ar", []byte("PK\x03\x04 zip file"), ErrFormat},
		{"empty", nil, ErrFormat},
		{"no data member", fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"}), ErrFormat},
		{"data first", fakearchive.BuildDebRaw(t, [2]string{"data.tar", ""}), ErrFormat},
		{"unknown compression", fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.lz4", "x"}), ErrFormat},
		{"corrupt xz", fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.xz", "not xz"}), ErrFormat},
		{"dotdot entry", fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"},
			[2]string{"data.tar", string(fakearchive.Tar(t, map[string][]byte{"./../../etc/passwd": nil}))}), ErrUnsafePath},
		{"absolute entry", fakearchive.BuildDebRaw(t, [2]string{"debian-binary", "2.0\n"},
			[2]string{"data.tar", string(fakearchive.Tar(t, map[string][]byte{"/etc/passwd": nil}))}), ErrUnsafePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Walk(bytes.NewReader(tt.deb), func(*tar.Header, io.Reader) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Errorf("Walk error = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzWalk(f *testing.F) {
	f.Add([]byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"))
	f.Fuzz(func(t *testing.T, deb []byte) {
		Walk(bytes.NewReader(deb), func(hdr *tar.Header, r io.Reader) error {
			if _, err := cleanName(hdr.Name); err != nil || hdr.Name != "." && hdr.Name[0] == '/' {
				t.Fatalf("unsafe name %q passed to callback", hdr.Name)
			}
			_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			return err
		})
	})
}
