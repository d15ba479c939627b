package treetar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("restoring owners, device nodes and trusted xattrs needs root")
	}
}

// makeTree builds a tree with every kind of entry and attribute Pack keeps.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "etc/empty"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "usr/bin/su"), bytes.Repeat([]byte{0x7f}, 3<<20), 0o755))
	must(unix.Chmod(filepath.Join(dir, "usr/bin/su"), 0o4755))
	must(os.Link(filepath.Join(dir, "usr/bin/su"), filepath.Join(dir, "usr/bin/su2")))
	must(os.Symlink("/etc/hosts", filepath.Join(dir, "etc/hosts.abs")))
	must(os.Symlink("../etc", filepath.Join(dir, "usr/etc")))
	must(unix.Mkfifo(filepath.Join(dir, "etc/fifo"), 0o640))
	must(unix.Mknod(filepath.Join(dir, "etc/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(os.Lchown(filepath.Join(dir, "etc/hosts"), 1234, 5678))
	must(os.Lchown(filepath.Join(dir, "etc/hosts.abs"), 42, 43))
	must(unix.Setxattr(filepath.Join(dir, "etc/hosts"), "user.osbuild", []byte("v1"), 0))
	must(unix.Setxattr(filepath.Join(dir, "etc"), "trusted.dir", []byte{0, 1, 2}, 0))
	must(unix.Setxattr(filepath.Join(dir, "usr/bin/su"), "security.capability", capNetRaw, 0))
	mt := time.Unix(1700000000, 123456789)
	for _, p := range []string{"etc/hosts", "usr/bin/su", "etc/empty", "etc", "usr/bin", "usr", "."} {
		must(os.Chtimes(filepath.Join(dir, p), mt, mt))
	}
	ts := unix.NsecToTimespec(mt.UnixNano())
	must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, "etc/hosts.abs"), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
}

// capNetRaw is a VFS_CAP_REVISION_2 value granting cap_net_raw=ep.
var capNetRaw = []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func pack(t *testing.T, dir string) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Pack(context.Background(), dir, &buf)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return buf.Bytes(), st
}

func TestRoundTrip(t *testing.T) {
	needRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeTree(t, src)
	first, st := pack(t, src)
	if st.Files != 11 || st.Bytes != 20+3<<20 {
		t.Errorf("pack stats = %+v, want 11 files, %d bytes", st, 20+3<<20)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ust, err := Unpack(context.Background(), bytes.NewReader(first), dst, Options{Owners: true})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if ust != st {
		t.Errorf("unpack stats = %+v, pack stats %+v", ust, st)
	}
	checkTree(t, dst)
	second, _ := pack(t, dst)
	if !bytes.Equal(first, second) {
		t.Fatalf("second pack differs: %d vs %d bytes", len(first), len(second))
	}
}

// checkTree asserts the attributes makeTree set survived.
func checkTree(t *testing.T, dir string) {
	t.Helper()
	var st unix.Stat_t
	stat := func(p string) *unix.Stat_t {
		if err := unix.Lstat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		return &st
	}
	if s := stat("etc/hosts"); s.Uid != 1234 || s.Gid != 5678 || s.Mode&0o7777 != 0o644 || s.Mtim.Nsec != 123456789 {
		t.Errorf("etc/hosts: uid %d gid %d mode %o mtime ns %d", s.Uid, s.Gid, s.Mode, s.Mtim.Nsec)
	}
	if s := stat("usr/bin/su"); s.Mode&0o7777 != 0o4755 || s.Nlink != 2 {
		t.Errorf("usr/bin/su: mode %o nlink %d", s.Mode&0o7777, s.Nlink)
	}
	if s := stat("etc/null"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("etc/null: mode %o rdev %d", s.Mode, s.Rdev)
	}
	if s := stat("etc/fifo"); s.Mode&unix.S_IFMT != unix.S_IFIFO || s.Mode&0o777 != 0o640 {
		t.Errorf("etc/fifo: mode %o", s.Mode)
	}
	if s := stat("etc/hosts.abs"); s.Uid != 42 {
		t.Errorf("symlink owner %d, want 42", s.Uid)
	}
	if l, err := os.Readlink(filepath.Join(dir, "etc/hosts.abs")); err != nil || l != "/etc/hosts" {
		t.Errorf("symlink = %q, %v", l, err)
	}
	for _, x := range []struct{ path, name, want string }{
		{"etc/hosts", "user.osbuild", "v1"},
		{"etc", "trusted.dir", "\x00\x01\x02"},
		{"usr/bin/su", "security.capability", string(capNetRaw)},
	} {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(dir, x.path), x.name, buf)
		if err != nil || string(buf[:n]) != x.want {
			t.Errorf("xattr %s of %s = %q, %v", x.name, x.path, buf[:max(n, 0)], err)
		}
	}
}

func TestPackDeterministicOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b", "a-c", "a/b"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := pack(t, dir)
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: names or extra times recorded: %+v", h.Name, h)
		}
		names = append(names, h.Name)
	}
	want := []string{"./", "./a/", "./a/b", "./a-c", "./b"}
	if len(names) != len(want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names = %q, want %q", names, want)
		}
	}
}

type entry struct {
	hdr  tar.Header
	body string
}

func archive(t testing.TB, entries ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.body))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

func reg(name, body string) entry {
	return entry{tar.Header{Name: name, Typeflag: tar.TypeReg}, body}
}

func sym(name, target string) entry {
	return entry{tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}, ""}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("keep"), 0o644)
	cases := []struct {
		name    string
		entries []entry
		want    error
	}{
		{"dotdot", []entry{reg("../x", "boom")}, ErrUnsafePath},
		{"dotdot inside", []entry{reg("a/../../x", "boom")}, ErrUnsafePath},
		{"absolute", []entry{reg(secret, "boom")}, ErrUnsafePath},
		{"write through dir symlink", []entry{sym("l", outside), reg("l/secret", "boom")}, ErrUnsafePath},
		{"write through relative symlink", []entry{sym("l", "../outside"), reg("l/secret", "boom")}, ErrUnsafePath},
		{"hard link out", []entry{{tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside/secret"}, ""}}, ErrUnsafePath},
		{"hard link through symlink", []entry{sym("l", outside), {tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "l/secret"}, ""}}, ErrUnsafePath},
		{"root as file", []entry{reg(".", "")}, ErrUnsafePath},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(base, "tree", string(rune('a'+i)))
			os.MkdirAll(dir, 0o755)
			_, err := Unpack(context.Background(), bytes.NewReader(archive(t, c.entries...)), dir, Options{})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if b, _ := os.ReadFile(secret); string(b) != "keep" {
				t.Fatalf("outside file changed: %q", b)
			}
			if _, err := os.Lstat(filepath.Join(base, "x")); err == nil {
				t.Fatal("file written outside the tree")
			}
		})
	}
}

// A file entry after a symlink of the same name replaces the link; it never
// writes through it.
func TestUnpackReplacesSymlink(t *testing.T) {
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	os.WriteFile(secret, []byte("keep"), 0o644)
	dir := filepath.Join(base, "tree")
	os.Mkdir(dir, 0o755)
	data := archive(t, sym("f", secret), reg("f", "new"))
	if _, err := Unpack(context.Background(), bytes.NewReader(data), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(secret); string(b) != "keep" {
		t.Fatalf("wrote through symlink: %q", b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "new" {
		t.Fatalf("f = %q, %v", b, err)
	}
}

func TestUnpackMalformed(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.tar")
	if len(files) == 0 {
		t.Fatal("no testdata/*.tar")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Unpack(context.Background(), bytes.NewReader(data), t.TempDir(), Options{}); err == nil {
				t.Fatal("malformed archive accepted")
			}
		})
	}
}
