package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/blakesmith/ar"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/tarx"
)

type file struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

func dataTar(t *testing.T, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Linkname: f.link, Size: int64(len(f.body)),
			Uid: f.uid, Gid: f.uid, ModTime: time.Unix(1600000000, 0)}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(f.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t *testing.T, kind string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "gz":
		w = gzip.NewWriter(&buf)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "zst":
		w, err = zstd.NewWriter(&buf)
	default:
		return data
	}
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeDeb(t *testing.T, kind string, files []file) []byte {
	t.Helper()
	member := "data.tar"
	if kind != "" {
		member += "." + kind
	}
	var buf bytes.Buffer
	w := ar.NewWriter(&buf)
	_ = w.WriteGlobalHeader()
	for _, m := range [][2]string{{"debian-binary", "2.0\n"}, {"control.tar.xz", "ignored"}, {member, string(compress(t, kind, dataTar(t, files)))}} {
		if err := w.WriteHeader(&ar.Header{Name: m[0], Size: int64(len(m[1])), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(m[1]))
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	args := stagetest.Args(t, `{}`)
	base := makeDeb(t, "xz", []file{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin", typ: tar.TypeSymlink, link: "usr/bin"},
		{name: "./etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "./etc/version", typ: tar.TypeReg, body: "1", mode: 0o644},
	})
	tool := makeDeb(t, "zst", []file{
		{name: "./bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "./bin/tool", typ: tar.TypeReg, body: "tool", mode: 0o4755, uid: 0},
		{name: "./bin/tool2", typ: tar.TypeLink, link: "./bin/tool"},
		{name: "./var/lib/x/", typ: tar.TypeDir, mode: 0o700, uid: 101},
	})
	upgrade := makeDeb(t, "gz", []file{{name: "./etc/version", typ: tar.TypeReg, body: "2", mode: 0o600}})
	plain := makeDeb(t, "", []file{{name: "./etc/plain", typ: tar.TypeReg, body: "p", mode: 0o644}})
	stagetest.FileInput(t, args, "debs", base, tool, upgrade, plain)
	if err := Extract(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(args.Tree, "bin")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("usr-merge symlink /bin was replaced by a directory")
	}
	if got := stagetest.Read(t, args.Tree, "usr/bin/tool"); got != "tool" {
		t.Errorf("tool = %q", got)
	}
	tool1, _ := os.Stat(filepath.Join(args.Tree, "usr/bin/tool"))
	tool2, _ := os.Stat(filepath.Join(args.Tree, "usr/bin/tool2"))
	if !os.SameFile(tool1, tool2) || tool1.Mode()&os.ModeSetuid == 0 {
		t.Errorf("hardlink or setuid lost: %v", tool1.Mode())
	}
	if got := stagetest.Read(t, args.Tree, "etc/version"); got != "2" {
		t.Errorf("later package did not win: %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "etc/plain"); got != "p" {
		t.Errorf("plain data.tar: %q", got)
	}
	if tool1.ModTime().Unix() != 1600000000 {
		t.Errorf("mtime %v", tool1.ModTime())
	}
	if os.Geteuid() != 0 {
		t.Skip("owners need root to check; CI runs as root")
	}
	fi, _ := os.Stat(filepath.Join(args.Tree, "var/lib/x"))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 101 || fi.Mode().Perm() != 0o700 {
		t.Errorf("var/lib/x: uid %d mode %o", st.Uid, fi.Mode().Perm())
	}
}

func TestExtractRefuses(t *testing.T) {
	cases := map[string]struct {
		deb  func(t *testing.T) []byte
		want error
	}{
		"escape": {func(t *testing.T) []byte {
			return makeDeb(t, "xz", []file{{name: "../../evil", typ: tar.TypeReg, body: "x"}})
		}, tarx.ErrUnsafeEntry},
		"not deb": {func(*testing.T) []byte { return []byte("plain text") }, debfile.ErrFormat},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := stagetest.Args(t, `{}`)
			_, check := stagetest.Outside(t, args)
			stagetest.FileInput(t, args, "debs", tc.deb(t))
			if err := Extract(context.Background(), args); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			check()
		})
	}
}

func TestExtractThroughHostileSymlink(t *testing.T) {
	args := stagetest.Args(t, `{}`)
	outside, check := stagetest.Outside(t, args)
	stagetest.Symlink(t, args.Tree, "etc", outside)
	stagetest.FileInput(t, args, "debs", makeDeb(t, "gz", []file{{name: "./etc/passwd", typ: tar.TypeReg, body: "x", mode: 0o644}}))
	if err := Extract(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	check()
}
