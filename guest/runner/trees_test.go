package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

func callSave(t testing.TB, c *jsoncomm.Client, name, to string) jsoncomm.TreeInfo {
	t.Helper()
	var info jsoncomm.TreeInfo
	if err := c.Call(context.Background(), jsoncomm.MethodTreeSave, jsoncomm.TreeSaveParams{Tree: name, To: to}, &info, nil); err != nil {
		t.Fatalf("tree.save %s: %v", name, err)
	}
	return info
}

func TestTreeRoundTrip(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	openTree(t, c, "a", "")
	dir := r.treeDir("a")
	os.MkdirAll(filepath.Join(dir, "etc/ssl"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/ssl/key"), []byte("k"), 0o600)
	os.Lchown(filepath.Join(dir, "etc/ssl/key"), 101, 102)
	unix.Chmod(filepath.Join(dir, "etc/ssl"), 0o2750)
	os.Link(filepath.Join(dir, "etc/passwd"), filepath.Join(dir, "etc/passwd.link"))
	os.Symlink("ssl/key", filepath.Join(dir, "etc/key"))
	unix.Lsetxattr(filepath.Join(dir, "etc/passwd"), "trusted.test", []byte("x"), 0)

	share := t.TempDir()
	first := callSave(t, c, "a", filepath.Join(share, "a.tar"))
	if first.Files != 6 || first.Bytes != 27 || first.Archive != filepath.Join(share, "a.tar") {
		t.Errorf("save info = %+v", first)
	}
	data, _ := os.ReadFile(first.Archive)
	opened := openTree(t, c, "b", first.Archive)
	if opened.Files != first.Files || opened.Bytes != first.Bytes {
		t.Errorf("open info = %+v, save info %+v", opened, first)
	}
	second := callSave(t, c, "b", filepath.Join(share, "b.tar"))
	if again, _ := os.ReadFile(second.Archive); !bytes.Equal(again, data) || len(data) == 0 {
		t.Fatalf("second save differs: %d bytes vs %d", len(again), len(data))
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(r.treeDir("b"), "etc/ssl/key"), &st); err != nil || st.Uid != 101 || st.Gid != 102 || st.Mode&0o777 != 0o600 {
		t.Errorf("owner or mode lost: %+v %v", st, err)
	}
	if err := unix.Lstat(filepath.Join(r.treeDir("b"), "etc/passwd"), &st); err != nil || st.Nlink != 2 {
		t.Errorf("hard link lost: nlink %d %v", st.Nlink, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(share, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %q", leftovers)
	}
}

func TestTreeOpenRefusesMaliciousArchive(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/", Mode: 0o777})
	tw.WriteHeader(&tar.Header{Name: "l/etc/evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	bad := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(bad, buf.Bytes(), 0o644)
	err := c.Call(context.Background(), jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: "x", From: bad}, nil, nil)
	if !errors.Is(err, jsoncomm.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat("/etc/evil"); err == nil {
		t.Fatal("archive wrote through a symlink")
	}
	if _, err := os.Stat(r.treeDir("x")); !os.IsNotExist(err) {
		t.Errorf("failed tree left behind: %v", err)
	}
	openTree(t, c, "x", "") // the name is free again
	err = c.Call(context.Background(), jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: "y", From: "/nonexistent.tar"}, nil, nil)
	if !errors.Is(err, jsoncomm.ErrNotFound) {
		t.Errorf("missing archive: err = %v, want ErrNotFound", err)
	}
}

func TestTreeLifecycle(t *testing.T) {
	r := newRunner(t)
	c := client(t, r)
	openTree(t, c, "t", "")
	call := func(method string, params any) error {
		return c.Call(context.Background(), method, params, nil, nil)
	}
	if err := call(jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: "t"}); !errors.Is(err, jsoncomm.ErrInvalid) {
		t.Errorf("open twice: %v", err)
	}
	release, _ := r.trees.acquire("t", true) // as a running stage would
	if err := call(jsoncomm.MethodTreeSave, jsoncomm.TreeSaveParams{Tree: "t", To: filepath.Join(t.TempDir(), "t.tar")}); !errors.Is(err, jsoncomm.ErrInvalid) {
		t.Errorf("save while written: %v", err)
	}
	release()
	if err := call(jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.treeDir("t")); !os.IsNotExist(err) {
		t.Errorf("closed tree still on disk: %v", err)
	}
	if err := call(jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: "t"}); !errors.Is(err, jsoncomm.ErrNotFound) {
		t.Errorf("close twice: %v", err)
	}
}
