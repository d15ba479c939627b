package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/blakesmith/ar"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
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

type file struct {
	name, body string
	mode       int64
}

// makeTar writes regular files (and "/"-ending directories) in order.
func makeTar(t testing.TB, files ...file) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if f.name[len(f.name)-1] == '/' {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func xzString(t testing.TB, s string) string {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func zstdString(t testing.TB, s string) string {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(w.EncodeAll([]byte(s), nil))
}

const version = "2.0\n"

func sampleDeb(t testing.TB) []byte {
	control := makeTar(t,
		file{name: "./"},
		file{name: "./control", body: "Package: hello\nVersion: 1.0-1\nArchitecture: arm64\nDescription: greets\n multi-line\n"},
		file{name: "./postinst", body: "#!/bin/sh\nexit 0\n", mode: 0o755},
		file{name: "./md5sums", body: "d41d8cd98f00b204e9800998ecf8427e  usr/bin/hello\n"})
	data := makeTar(t, file{name: "./"}, file{name: "./usr/"}, file{name: "./usr/bin/hello", body: "ELF", mode: 0o755})
	return makeDeb(t, [2]string{"debian-binary", version}, [2]string{"control.tar.xz", xzString(t, control)},
		[2]string{"data.tar.zst", zstdString(t, data)})
}

func TestReadControl(t *testing.T) {
	c, err := ReadControl(bytes.NewReader(sampleDeb(t)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Package() != "hello" || c.Fields.Value("Version") != "1.0-1" {
		t.Errorf("fields = %v", c.Fields)
	}
	if got := c.Fields.Value("Description"); got != "greets\nmulti-line" {
		t.Errorf("Description = %q", got)
	}
	want := map[string]ControlFile{
		"control":  c.Files["control"],
		"postinst": {Mode: 0o755, ModTime: c.Files["postinst"].ModTime, Data: []byte("#!/bin/sh\nexit 0\n")},
		"md5sums":  {Mode: 0o644, ModTime: c.Files["md5sums"].ModTime, Data: []byte("d41d8cd98f00b204e9800998ecf8427e  usr/bin/hello\n")},
	}
	if d := cmp.Diff(want, c.Files); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
}

func TestWalk(t *testing.T) {
	got := map[string]string{}
	err := Walk(bytes.NewReader(sampleDeb(t)), func(hdr *tar.Header, r io.Reader) error {
		data, err := io.ReadAll(r)
		got[hdr.Name] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{".": "", "usr": "", "usr/bin/hello": "ELF"}, got); d != "" {
		t.Errorf("Walk saw (-want +got):\n%s", d)
	}
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Walk(bytes.NewReader(sampleDeb(t)), func(*tar.Header, io.Reader) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk = %v after %d calls, want stop after 1", err, n)
	}
}

func TestDataTar(t *testing.T) {
	deb := makeDeb(t, [2]string{"debian-binary", version}, [2]string{"control.tar.xz", "ctl"}, [2]string{"data.tar", "payload"})
	r, err := DataTar(bytes.NewReader(deb))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != "payload" {
		t.Errorf("data = %q", got)
	}
}

func TestMalformed(t *testing.T) {
	v := [2]string{"debian-binary", version}
	tests := []struct {
		name string
		deb  []byte
		want error
	}{
		{"not ar", []byte("PK\x03\x04 zip file"), ErrFormat},
		{"empty", nil, ErrFormat},
		{"no version", makeDeb(t, [2]string{"data.tar", "x"}), ErrFormat},
		{"version 1", makeDeb(t, [2]string{"debian-binary", "1.0\n"}, [2]string{"data.tar", "x"}), ErrFormat},
		{"huge version", makeDeb(t, [2]string{"debian-binary", string(bytes.Repeat([]byte("2"), 100))}), ErrFormat},
		{"no data member", makeDeb(t, v), ErrFormat},
		{"unknown compression", makeDeb(t, v, [2]string{"data.tar.lz4", "x"}), ErrFormat},
		{"corrupt xz", makeDeb(t, v, [2]string{"data.tar.xz", "not xz"}), ErrFormat},
		{"dotdot entry", makeDeb(t, v, [2]string{"data.tar", makeTar(t, file{name: "./../../etc/passwd"})}), ErrUnsafePath},
		{"absolute entry", makeDeb(t, v, [2]string{"data.tar", makeTar(t, file{name: "/etc/passwd"})}), ErrUnsafePath},
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

func TestControlMalformed(t *testing.T) {
	v := [2]string{"debian-binary", version}
	ctl := func(files ...file) []byte { return makeDeb(t, v, [2]string{"control.tar", makeTar(t, files...)}) }
	tests := map[string][]byte{
		"no control member": makeDeb(t, v, [2]string{"data.tar", ""}),
		"no control file":   ctl(file{name: "./postinst", body: "x"}),
		"no Package":        ctl(file{name: "./control", body: "Version: 1\n"}),
		"two paragraphs":    ctl(file{name: "./control", body: "Package: a\n\nPackage: b\n"}),
		"nested member":     ctl(file{name: "./control", body: "Package: a\n"}, file{name: "./sub/postinst"}),
		"escaping member":   ctl(file{name: "../control", body: "Package: a\n"}),
		"too large":         ctl(file{name: "./control", body: "Package: a\n"}, file{name: "./md5sums", body: string(make([]byte, MaxControlSize))}),
	}
	for name, deb := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadControl(bytes.NewReader(deb)); !errors.Is(err, ErrFormat) {
				t.Errorf("ReadControl error = %v, want ErrFormat", err)
			}
		})
	}
}

// FuzzWalk: whatever the input, Walk never panics and never hands the
// callback a name that leaves the tree.
func FuzzWalk(f *testing.F) {
	f.Add(sampleDeb(f))
	f.Fuzz(func(t *testing.T, deb []byte) {
		Walk(bytes.NewReader(deb), func(hdr *tar.Header, r io.Reader) error {
			if c, err := CleanName(hdr.Name); err != nil || c != hdr.Name {
				t.Fatalf("unsafe or unclean name %q passed to callback", hdr.Name)
			}
			_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			return err
		})
	})
}

// FuzzDataTar: DataTar never panics, and what it returns reads to an end.
func FuzzDataTar(f *testing.F) {
	f.Add(makeDeb(f, [2]string{"debian-binary", version}, [2]string{"data.tar", "payload"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DataTar(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}

// FuzzReadControl: a control archive that reads is one paragraph with a
// Package field and only single-component file names.
func FuzzReadControl(f *testing.F) {
	f.Add(sampleDeb(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadControl(bytes.NewReader(data))
		if err != nil {
			return
		}
		if c.Package() == "" {
			t.Fatal("control without Package accepted")
		}
		for name := range c.Files {
			if name == "" || name == "." || bytes.ContainsAny([]byte(name), "/\x00") {
				t.Fatalf("control member name %q accepted", name)
			}
		}
	})
}
