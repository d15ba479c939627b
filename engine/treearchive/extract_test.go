package treearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type entry struct {
	h    tar.Header
	body string
}

func writeArchive(t *testing.T, entries []entry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		h.Size = int64(len(e.body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "tree.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtractTree(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	src := writeArchive(t, []entry{
		{h: tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}},
		{h: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime}},
		{h: tar.Header{Name: "etc/hostname", Typeflag: tar.TypeReg, Mode: 0o640, ModTime: mtime}, body: "box\n"},
		{h: tar.Header{Name: "etc/link", Typeflag: tar.TypeSymlink, Linkname: "hostname", ModTime: mtime}},
		{h: tar.Header{Name: "etc/hard", Typeflag: tar.TypeLink, Linkname: "etc/hostname", ModTime: mtime}},
		{h: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: mtime}},
		{h: tar.Header{Name: "bin/tool", Typeflag: tar.TypeReg, Mode: 0o4755, ModTime: mtime}, body: "#!"},
	})
	dest := t.TempDir()
	if err := Extract(context.Background(), src, dest, Options{Owners: os.Geteuid() == 0}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dest, "etc/link"))
	if err != nil || string(b) != "box\n" {
		t.Fatalf("symlink content %q, %v", b, err)
	}
	st, _ := os.Stat(filepath.Join(dest, "etc/hostname"))
	if st.Mode().Perm() != 0o640 || !st.ModTime().Equal(mtime) {
		t.Errorf("hostname mode %v mtime %v", st.Mode(), st.ModTime())
	}
	hard, _ := os.Stat(filepath.Join(dest, "etc/hard"))
	if !os.SameFile(st, hard) {
		t.Error("hardlink is not the same file")
	}
	tool, _ := os.Stat(filepath.Join(dest, "bin/tool"))
	if tool.Mode()&os.ModeSetuid == 0 {
		t.Errorf("setuid lost: %v", tool.Mode())
	}
	dir, _ := os.Stat(filepath.Join(dest, "etc"))
	if !dir.ModTime().Equal(mtime) {
		t.Errorf("dir mtime %v", dir.ModTime())
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	cases := map[string][]entry{
		"dotdot":   {{h: tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"}},
		"absolute": {{h: tar.Header{Name: "/evil", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"}},
		"through symlink": {
			{h: tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside}},
			{h: tar.Header{Name: "out/evil", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"},
		},
		"relative symlink": {
			{h: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../../" + outside}},
			{h: tar.Header{Name: "up/evil", Typeflag: tar.TypeReg, Mode: 0o644}, body: "x"},
		},
		"hardlink out": {{h: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			src := writeArchive(t, entries)
			err := Extract(context.Background(), src, t.TempDir(), Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			if _, err := os.Stat(filepath.Join(outside, "evil")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("wrote outside the destination")
			}
		})
	}
}
