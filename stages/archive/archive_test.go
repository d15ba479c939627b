package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/tarx"
)

var ctx = context.Background()

// sampleInput fills a tree input with files, a symlink, a hardlink and
// recent mtimes.
func sampleInput(t *testing.T, args *api.Arguments) string {
	t.Helper()
	in := stagetest.TreeInput(t, args, "tree")
	stagetest.Write(t, in, "usr/bin/tool", "#!/bin/sh\n")
	stagetest.Write(t, in, "etc/b.conf", "b")
	stagetest.Write(t, in, "etc/a.conf", "a")
	stagetest.Symlink(t, in, "bin", "usr/bin")
	if err := os.Link(filepath.Join(in, "etc/a.conf"), filepath.Join(in, "etc/a-link.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(in, "usr/bin/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	return in
}

type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	MTime      int64
	Uname      string
}

func listTar(t *testing.T, r io.Reader) []entry {
	t.Helper()
	dr, err := tarx.Decompress(r)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h.Name, h.Linkname, h.Typeflag, h.Mode, h.ModTime.Unix(), h.Uname})
	}
}

func runTar(t *testing.T, opts string, epoch int64) (*api.Arguments, []byte) {
	t.Helper()
	args := stagetest.Args(t, opts)
	sampleInput(t, args)
	if epoch > 0 {
		stagetest.Epoch(args, epoch)
	}
	if err := Tar(ctx, args); err != nil {
		t.Fatal(err)
	}
	var name struct{ Filename string }
	_ = args.DecodeOptions(&name)
	data, err := os.ReadFile(filepath.Join(args.Tree, name.Filename))
	if err != nil {
		t.Fatal(err)
	}
	return args, data
}

func TestTarListing(t *testing.T) {
	_, data := runTar(t, `{"filename": "a.tar"}`, 1000)
	var names []string
	for _, e := range listTar(t, bytes.NewReader(data)) {
		names = append(names, e.Name)
		if e.MTime != 1000 {
			t.Errorf("%s: mtime %d not clamped", e.Name, e.MTime)
		}
		if e.Uname != "" {
			t.Errorf("%s: owner name %q, want numeric only", e.Name, e.Uname)
		}
		// "a-link.conf" sorts first, so it carries the data.
		if e.Name == "./etc/a-link.conf" && e.Type != tar.TypeReg || e.Name == "./etc/a.conf" && (e.Type != tar.TypeLink || e.Link != "./etc/a-link.conf") {
			t.Errorf("hardlink handling: %+v", e)
		}
		if e.Name == "./bin" && (e.Type != tar.TypeSymlink || e.Link != "usr/bin") {
			t.Errorf("symlink: %+v", e)
		}
	}
	want := []string{"./", "./bin", "./etc/", "./etc/a-link.conf", "./etc/a.conf", "./etc/b.conf", "./usr/", "./usr/bin/", "./usr/bin/tool"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestTarVariants(t *testing.T) {
	cases := []struct {
		opts  string
		names []string
	}{
		{`{"filename": "a.tar", "root-node": "omit"}`, []string{"bin", "etc/", "etc/a-link.conf", "etc/a.conf", "etc/b.conf", "usr/", "usr/bin/", "usr/bin/tool"}},
		{`{"filename": "a.tar", "paths": ["usr/bin", "etc/b.conf"]}`, []string{"usr/bin/", "usr/bin/tool", "etc/b.conf"}},
		{`{"filename": "a.tar.gz", "paths": ["usr"], "transform": "s,^usr,opt,"}`, []string{"opt/", "opt/bin/", "opt/bin/tool"}},
		{`{"filename": "a.tar.zst", "paths": ["etc/a.conf"], "format": "posix"}`, []string{"etc/a.conf"}},
		{`{"filename": "a.tar.xz", "paths": ["etc/a.conf"], "format": "ustar"}`, []string{"etc/a.conf"}},
		{`{"filename": "a.tar", "paths": ["etc/a.conf"], "compression": "gzip"}`, []string{"etc/a.conf"}},
	}
	for _, tc := range cases {
		t.Run(tc.opts, func(t *testing.T) {
			_, data := runTar(t, tc.opts, 0)
			var names []string
			for _, e := range listTar(t, bytes.NewReader(data)) {
				names = append(names, e.Name)
			}
			if diff := cmp.Diff(tc.names, names); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTarReproducible(t *testing.T) {
	for _, name := range []string{"a.tar", "a.tar.gz", "a.tar.xz", "a.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			_, one := runTar(t, `{"filename": "`+name+`"}`, 1700000000)
			_, two := runTar(t, `{"filename": "`+name+`"}`, 1700000000)
			if !bytes.Equal(one, two) {
				t.Error("two runs differ")
			}
		})
	}
}

func TestTarUnsupported(t *testing.T) {
	for _, opts := range []string{`{"filename": "a.tar.bz2"}`, `{"filename": "a.tar", "transform": "y/a/b/"}`, `{"filename": "a.tar", "format": "cpio"}`} {
		args := stagetest.Args(t, opts)
		sampleInput(t, args)
		if err := Tar(ctx, args); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: got %v", opts, err)
		}
	}
}

func TestCompressStages(t *testing.T) {
	payload := bytes.Repeat([]byte("osbuild-vm "), 10000)
	cases := []struct {
		name  string
		stage func(context.Context, *api.Arguments) error
		opts  string
	}{
		{"gzip", Gzip, `{"filename": "out.gz"}`},
		{"gzip9", Gzip, `{"filename": "out.gz", "level": 9}`},
		{"xz", Xz, `{"filename": "out.xz"}`},
		{"zstd", Zstd, `{"filename": "out.zst"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var outputs [][]byte
			for range 2 {
				args := stagetest.Args(t, tc.opts)
				stagetest.FileInput(t, args, "file", payload)
				if err := tc.stage(ctx, args); err != nil {
					t.Fatal(err)
				}
				var o struct{ Filename string }
				_ = args.DecodeOptions(&o)
				out, err := os.ReadFile(filepath.Join(args.Tree, o.Filename))
				if err != nil {
					t.Fatal(err)
				}
				outputs = append(outputs, out)
			}
			if !bytes.Equal(outputs[0], outputs[1]) {
				t.Error("two runs differ")
			}
			r, err := tarx.Decompress(bytes.NewReader(outputs[0]))
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, payload) {
				t.Errorf("round trip: %d bytes, %v", len(back), err)
			}
		})
	}
}

func TestGzipHeaderHasNoNameOrTime(t *testing.T) {
	args := stagetest.Args(t, `{"filename": "x.gz"}`)
	stagetest.FileInput(t, args, "file", []byte("x"))
	if err := Gzip(ctx, args); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(args.Tree, "x.gz"))
	// ID1 ID2 CM FLG MTIME(4) XFL OS
	if out[3] != 0 || !bytes.Equal(out[4:8], []byte{0, 0, 0, 0}) || out[9] != 3 {
		t.Errorf("header % x", out[:10])
	}
}

func TestUntarAndAssembler(t *testing.T) {
	asm := stagetest.Args(t, `{"filename": "tree.tar.gz", "compression": "gzip"}`)
	sampleInput(t, asm)
	stagetest.Epoch(asm, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	if err := TarAssembler(ctx, asm); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(asm.Tree, "tree.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	args := stagetest.Args(t, `{"prefix": "/opt/root"}`)
	stagetest.FileInput(t, args, "file", data)
	if err := Untar(ctx, args); err != nil {
		t.Fatal(err)
	}
	if got := stagetest.Read(t, args.Tree, "opt/root/usr/bin/tool"); got != "#!/bin/sh\n" {
		t.Errorf("tool = %q", got)
	}
	a, _ := os.Stat(filepath.Join(args.Tree, "opt/root/etc/a.conf"))
	b, _ := os.Stat(filepath.Join(args.Tree, "opt/root/etc/a-link.conf"))
	if !os.SameFile(a, b) {
		t.Error("hardlink lost")
	}
	if a.ModTime().Year() != 2024 {
		t.Errorf("mtime %v, want the clamped 2024 one", a.ModTime())
	}
	if err := TarAssembler(ctx, stagetest.Args(t, `{"filename": "x.tar", "compression": "lzop"}`)); err == nil {
		t.Error("assembler without a tree input succeeded")
	}
}

func TestUntarRefusesEscapes(t *testing.T) {
	cases := map[string][]tar.Header{
		"dotdot":        {{Name: "../evil", Typeflag: tar.TypeReg, Mode: 0o644}},
		"nested dotdot": {{Name: "a/../../evil", Typeflag: tar.TypeReg, Mode: 0o644}},
		"hardlink out":  {{Name: "l", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}},
	}
	for name, hdrs := range cases {
		t.Run(name, func(t *testing.T) {
			args := stagetest.Args(t, `{}`)
			stagetest.FileInput(t, args, "file", tarBytes(t, hdrs))
			if err := Untar(ctx, args); !errors.Is(err, tarx.ErrUnsafeEntry) {
				t.Errorf("got %v, want ErrUnsafeEntry", err)
			}
		})
	}
	// A symlink out of the tree, then a file through it, lands inside.
	args := stagetest.Args(t, `{}`)
	outside, check := stagetest.Outside(t, args)
	stagetest.FileInput(t, args, "file", tarBytes(t, []tar.Header{
		{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: outside},
		{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4},
	}))
	if err := Untar(ctx, args); err != nil {
		t.Fatal(err)
	}
	check()
	if got := stagetest.Read(t, args.Tree, filepath.Join(outside, "passwd")); got != "data" {
		t.Errorf("file via symlink = %q", got)
	}
}

func tarBytes(t *testing.T, hdrs []tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte(strings.Repeat("data", int(h.Size))[:h.Size]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseTransform(t *testing.T) {
	cases := []struct{ expr, in, want string }{
		{"s,^usr,opt,", "usr/bin", "opt/bin"},
		{"s/a/b/g", "aXa", "bXb"},
		{"s/a/b/", "aXa", "bXa"},
		{"s/x/[&]/", "axb", "a[x]b"},
		{"s/x/$1/", "x", "$1"},
		{"s|^./||", "./etc", "etc"},
		{"s/(o+)/<\\1>/", "foo", "f<oo>"},
		{"s/A/b/i", "xa", "xb"},
	}
	for _, tc := range cases {
		f, err := parseTransform(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := f(tc.in); got != tc.want {
			t.Errorf("%s on %q = %q, want %q", tc.expr, tc.in, got, tc.want)
		}
	}
}
