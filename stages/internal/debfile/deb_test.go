package debfile

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/blakesmith/ar"
)

// makeDeb builds an ar archive of the given members, in order.
func makeDeb(t testing.TB, members ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ar.NewWriter(&buf)
	if err := w.WriteGlobalHeader(); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		hdr := &ar.Header{Name: m[0], Size: int64(len(m[1])), Mode: 0o644, ModTime: time.Unix(0, 0)}
		if err := w.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m[1])); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestDataTar(t *testing.T) {
	deb := makeDeb(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", "ctl"}, [2]string{"data.tar", "payload"})
	r, err := DataTar(bytes.NewReader(deb))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "payload" {
		t.Errorf("data = %q", got)
	}
}

func TestDataTarRejects(t *testing.T) {
	cases := map[string][]byte{
		"not ar":       []byte("hello world, not an archive"),
		"no version":   makeDeb(t, [2]string{"data.tar", "x"}),
		"version 1":    makeDeb(t, [2]string{"debian-binary", "1.0\n"}, [2]string{"data.tar", "x"}),
		"no data":      makeDeb(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", "x"}),
		"bzip2 data":   makeDeb(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.bz2", "x"}),
		"huge version": makeDeb(t, [2]string{"debian-binary", string(bytes.Repeat([]byte("2"), 100))}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DataTar(bytes.NewReader(data)); !errors.Is(err, ErrNotDeb) {
				t.Errorf("got %v, want ErrNotDeb", err)
			}
		})
	}
}

func FuzzDataTar(f *testing.F) {
	f.Add(makeDeb(f, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar", "payload"}))
	f.Add(makeDeb(f, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.xz", "\xfd7zXZ\x00junk"}))
	f.Add(makeDeb(f, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.zst", "\x28\xb5\x2f\xfdjunk"}))
	f.Add(makeDeb(f, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", "\x1f\x8bjunk"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DataTar(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}
