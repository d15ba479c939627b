package tarx

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/internal/escapetest"
	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

func tarOf(t testing.TB, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.ModTime = time.Unix(1000, 0)
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(h.Name))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	data := tarOf(t,
		tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "./bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "./bin/sh", Typeflag: tar.TypeReg, Mode: 0o4755},
		tar.Header{Name: "./bin/ash", Typeflag: tar.TypeLink, Linkname: "./bin/sh"},
		tar.Header{Name: "./etc/alt", Typeflag: tar.TypeSymlink, Linkname: "/bin/sh"},
		tar.Header{Name: "./run/fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
	)
	if err := Extract(context.Background(), bytes.NewReader(data), api.Root(root), Options{Owners: os.Geteuid() == 0}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "bin")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("directory symlink /bin was replaced")
	}
	fi, err := os.Stat(filepath.Join(root, "usr/bin/sh"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("sh: %v %v", fi, err)
	}
	if fi.ModTime().Unix() != 1000 {
		t.Errorf("mtime %v", fi.ModTime())
	}
	ash, _ := os.Stat(filepath.Join(root, "usr/bin/ash"))
	if !os.SameFile(fi, ash) {
		t.Error("hardlink not made")
	}
	if l, _ := os.Readlink(filepath.Join(root, "etc/alt")); l != "/bin/sh" {
		t.Errorf("symlink = %q", l)
	}
	if fi, err := os.Lstat(filepath.Join(root, "run/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v", err)
	}
}

func TestExtractRefuses(t *testing.T) {
	cases := map[string][]byte{
		"dotdot":   tarOf(t, tar.Header{Name: "../x", Typeflag: tar.TypeReg, Mode: 0o644}),
		"deep":     tarOf(t, tar.Header{Name: "a/b/../../../x", Typeflag: tar.TypeReg, Mode: 0o644}),
		"hardlink": tarOf(t, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Extract(context.Background(), bytes.NewReader(data), api.Root(t.TempDir()), Options{}); !errors.Is(err, ErrUnsafeEntry) {
				t.Errorf("got %v, want ErrUnsafeEntry", err)
			}
		})
	}
}

func TestExtractReplacesSymlinkWithFile(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "f"), filepath.Join(root, "f")); err != nil {
		t.Fatal(err)
	}
	if err := Extract(context.Background(), bytes.NewReader(tarOf(t, tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644})), api.Root(root), Options{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Error("wrote through a symlink out of the tree")
	}
}

// FuzzExtract asserts what Extract exists for: whatever the archive holds,
// nothing changes outside the root (a sentinel tree around it and a full
// listing of the test's temporary root, before and after).
func FuzzExtract(f *testing.F) {
	f.Add(tarOf(f, tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "a/b", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(f, tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"}, tar.Header{Name: "l/x", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(f, tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../x"}))
	f.Add(tarOf(f, tar.Header{Name: "o", Typeflag: tar.TypeSymlink, Linkname: "../../../outside"}, tar.Header{Name: "o/secret", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(f, tar.Header{Name: "../sibling", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(f, tar.Header{Name: "s", Typeflag: tar.TypeSymlink, Linkname: "../sibling"}, tar.Header{Name: "s", Typeflag: tar.TypeReg, Mode: 0o4755}))
	f.Add(tarOf(f, tar.Header{Name: "o", Typeflag: tar.TypeSymlink, Linkname: "../../../outside"}, tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "o/secret"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		area := escapetest.New(t)
		_ = Extract(context.Background(), bytes.NewReader(data), api.Root(area.Dest), Options{Owners: os.Geteuid() == 0})
		area.Check(t)
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte("\x1f\x8b\x08\x00"))
	f.Add([]byte("\xfd7zXZ\x00\x00"))
	f.Add([]byte("\x28\xb5\x2f\xfd\x00"))
	f.Add([]byte("BZh9"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decompress(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer r.Close()
		buf := make([]byte, 1<<16)
		for i := 0; i < 16; i++ {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	})
}

func TestExtractDirOverFileSymlink(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "target"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	if err := Extract(context.Background(), bytes.NewReader(tarOf(t, tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})), api.Root(root), Options{}); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "target")); err != nil || string(data) != "keep" {
		t.Errorf("symlink target damaged: %q %v", data, err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "d")); err != nil || !fi.IsDir() {
		t.Errorf("d is not a directory: %v", err)
	}
}

func TestExtractCancelled(t *testing.T) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	data := tarOf(t, tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644})
	if err := Extract(c, bytes.NewReader(data), api.Root(t.TempDir()), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}
