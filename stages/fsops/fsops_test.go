package fsops

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

var ctx = context.Background()

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestMkdir(t *testing.T) {
	args := stagetest.Args(t, `{"paths": [
		{"path": "/a"},
		{"path": "b/c/d", "parents": true, "mode": 448},
		{"path": "tree:///a", "exist_ok": true},
		{"path": "/b/c/d", "parents": true, "exist_ok": true}]}`)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	if err := Mkdir(ctx, args); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(args.Tree, "a")).Perm(); m != 0o755 {
		t.Errorf("a mode %o", m)
	}
	if m := mode(t, filepath.Join(args.Tree, "b/c/d")).Perm(); m != 0o700 {
		t.Errorf("d mode %o", m)
	}
	again := stagetest.Args(t, `{"paths": [{"path": "/a"}, {"path": "/a"}]}`)
	if err := Mkdir(ctx, again); !errors.Is(err, fs.ErrExist) {
		t.Errorf("existing dir: %v", err)
	}
}

func TestCopy(t *testing.T) {
	args := stagetest.Args(t, "")
	refs := stagetest.FileInput(t, args, "files", []byte("hello"))
	src := stagetest.TreeInput(t, args, "tree")
	stagetest.Write(t, src, "d/x", "x")
	stagetest.Write(t, src, "d/sub/y", "y")
	stagetest.Symlink(t, src, "d/link", "/etc/passwd")
	if err := os.Link(filepath.Join(src, "d/x"), filepath.Join(src, "d/x2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "d/x"), 0o751); err != nil {
		t.Fatal(err)
	}
	stagetest.Write(t, args.Tree, "etc/.keep", "")
	stagetest.Write(t, args.Tree, "target", "old")
	stagetest.Symlink(t, args.Tree, "etc/link", "/target")
	args.Options = []byte(`{"paths": [
		{"from": "input://files/` + refs[0] + `", "to": "tree:///etc/greeting"},
		{"from": "input://tree/d", "to": "tree:///etc"},
		{"from": "input://tree/d/", "to": "tree:///flat"},
		{"from": "input://files/` + refs[0] + `", "to": "tree:///etc/link"}]}`)
	if err := Copy(ctx, args); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{"etc/greeting": "hello", "etc/d/x": "x", "etc/d/sub/y": "y", "flat/x": "x", "flat/sub/y": "y", "target": "hello"}
	for p, want := range checks {
		if got := stagetest.Read(t, args.Tree, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if m := mode(t, filepath.Join(args.Tree, "etc/d/x")).Perm(); m != 0o751 {
		t.Errorf("mode not kept: %o", m)
	}
	if l, _ := os.Readlink(filepath.Join(args.Tree, "etc/d/link")); l != "/etc/passwd" {
		t.Errorf("symlink not kept: %q", l)
	}
	a, _ := os.Stat(filepath.Join(args.Tree, "etc/d/x"))
	b, _ := os.Stat(filepath.Join(args.Tree, "etc/d/x2"))
	if !os.SameFile(a, b) {
		t.Error("hardlink not kept")
	}
}

func TestCopyRemoveDestination(t *testing.T) {
	args := stagetest.Args(t, "")
	refs := stagetest.FileInput(t, args, "files", []byte("new"))
	stagetest.Write(t, args.Tree, "target", "old")
	stagetest.Symlink(t, args.Tree, "link", "/target")
	args.Options = []byte(`{"paths": [{"from": "input://files/` + refs[0] + `", "to": "tree:///link", "remove_destination": true}]}`)
	if err := Copy(ctx, args); err != nil {
		t.Fatal(err)
	}
	if mode(t, filepath.Join(args.Tree, "link"))&fs.ModeSymlink != 0 {
		t.Error("link not replaced")
	}
	if got := stagetest.Read(t, args.Tree, "target"); got != "old" {
		t.Errorf("target written through: %q", got)
	}
}

func TestLn(t *testing.T) {
	args := stagetest.Args(t, `{"paths": [
		{"target": "/usr/bin/python3", "link_name": "tree:///usr/bin/python", "symbolic": true},
		{"target": "a", "link_name": "tree:///usr/bin/b"}]}`)
	stagetest.Write(t, args.Tree, "usr/bin/a", "a")
	if err := Ln(ctx, args); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(args.Tree, "usr/bin/python")); l != "/usr/bin/python3" {
		t.Errorf("symlink %q", l)
	}
	a, _ := os.Stat(filepath.Join(args.Tree, "usr/bin/a"))
	b, _ := os.Stat(filepath.Join(args.Tree, "usr/bin/b"))
	if !os.SameFile(a, b) {
		t.Error("hard link missing")
	}
}

func TestChmod(t *testing.T) {
	args := stagetest.Args(t, `{"items": {"/f": {"mode": "4755"}, "/d": {"mode": "go-rwx", "recursive": true}, "/d/sub/x": {"mode": "o+r"}}}`)
	stagetest.Write(t, args.Tree, "d/sub/x", "")
	stagetest.Write(t, args.Tree, "f", "")
	stagetest.Write(t, args.Tree, "other", "")
	stagetest.Symlink(t, args.Tree, "d/escape", "/other")
	if err := Chmod(ctx, args); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{"d": 0o700, "d/sub": 0o700, "d/sub/x": 0o604, "other": 0o644}
	for p, m := range want {
		if got := mode(t, filepath.Join(args.Tree, p)).Perm(); got != m {
			t.Errorf("%s: %o, want %o", p, got, m)
		}
	}
	if got := mode(t, filepath.Join(args.Tree, "f")); got&fs.ModeSetuid == 0 || got.Perm() != 0o755 {
		t.Errorf("f: %v", got)
	}
}

func TestChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root; CI runs as root")
	}
	args := stagetest.Args(t, `{"items": {"/home/u": {"user": "u", "group": "staff", "recursive": true}, "/f": {"user": 7}}}`)
	stagetest.Write(t, args.Tree, "etc/passwd", "root:x:0:0::/root:/bin/sh\nu:x:1234:1234::/home/u:/bin/sh\n")
	stagetest.Write(t, args.Tree, "etc/group", "root:x:0:\nstaff:x:50:\n")
	stagetest.Write(t, args.Tree, "home/u/.profile", "")
	stagetest.Write(t, args.Tree, "f", "")
	if err := Chown(ctx, args); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][2]uint32{"home/u": {1234, 50}, "home/u/.profile": {1234, 50}, "f": {7, 0}} {
		fi, _ := os.Lstat(filepath.Join(args.Tree, p))
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: %d:%d, want %v", p, st.Uid, st.Gid, want)
		}
	}
	bad := stagetest.Args(t, `{"items": {"/f": {"user": "nobody-here"}}}`)
	stagetest.Write(t, bad.Tree, "f", "")
	if err := Chown(ctx, bad); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	args := stagetest.Args(t, `{"filename": "/disk.img", "size": "1M"}`)
	if err := Truncate(ctx, args); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(args.Tree, "disk.img"))
	if err != nil || fi.Size() != 1<<20 {
		t.Errorf("size %v, %v", fi, err)
	}
}

func TestEscapes(t *testing.T) {
	cases := []struct {
		name  string
		stage func(context.Context, *api.Arguments) error
		opts  string
	}{
		{"mkdir", Mkdir, `{"paths": [{"path": "/etc/new", "parents": true}]}`},
		{"ln", Ln, `{"paths": [{"target": "x", "link_name": "tree:///etc/l", "symbolic": true}]}`},
		{"truncate", Truncate, `{"filename": "/etc/img", "size": "1K"}`},
		{"chmod", Chmod, `{"items": {"/etc": {"mode": "0700", "recursive": true}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := stagetest.Args(t, tc.opts)
			outside, check := stagetest.Outside(t, args)
			stagetest.Symlink(t, args.Tree, "etc", outside)
			// Failing is fine (the link's target does not exist inside
			// the tree); writing outside is not.
			if err := tc.stage(ctx, args); err != nil {
				t.Logf("stage failed inside the tree: %v", err)
			}
			check()
			if m := mode(t, outside).Perm(); m != 0o755 {
				t.Errorf("outside dir mode changed to %o", m)
			}
		})
	}
}
