package treetar

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// plainUID is the user a root test process becomes to see what a plain
// user's unpack does (nobody on Debian).
const plainUID = 65534

// asPlainUser runs fn with the effective uid and gid plainUID and, as for
// any plain user, no effective capabilities; it restores root after. As a
// plain user already, it just runs fn.
func asPlainUser(t *testing.T, dirs []string, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn()
		return
	}
	for _, d := range dirs {
		for p := d; p != "/" && p != "."; p = filepath.Dir(p) {
			if strings.HasPrefix(p, os.TempDir()+"/") {
				os.Chmod(p, 0o755)
			}
		}
		if err := os.Chown(d, plainUID, plainUID); err != nil {
			t.Fatal(err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// the saved set-user-ID stays 0, so root can be taken back
	if err := syscall.Setresgid(-1, plainUID, -1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setresuid(-1, plainUID, -1); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(err)
		}
		if err := syscall.Setresgid(-1, 0, -1); err != nil {
			panic(err)
		}
	}()
	fn()
}

// plainTree holds everything a plain user cannot restore: owners, a
// setuid root program with a file capability, a trusted xattr, a device
// node and a hard link to it, an xattr on a symlink; and what it can: a
// user xattr, a read-only directory with entries, a fifo.
func plainTree(t *testing.T) []byte {
	return archive(t,
		entry{tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, Uid: plainUID, Gid: plainUID}, ""},
		entry{tar.Header{Name: "ro/", Typeflag: tar.TypeDir, Mode: 0o555, Uid: plainUID, Gid: plainUID}, ""},
		entry{tar.Header{Name: "ro/su", Typeflag: tar.TypeReg, Mode: 0o4755, PAXRecords: map[string]string{
			xattrPrefix + "security.capability": string(capNetRaw), xattrPrefix + "trusted.t": "x",
			xattrPrefix + "user.ok": "kept"}}, "elf"},
		entry{tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}, ""},
		entry{tar.Header{Name: "null2", Typeflag: tar.TypeLink, Linkname: "null"}, ""},
		entry{tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o640, Uid: plainUID, Gid: plainUID}, ""},
		entry{tar.Header{Name: "mine", Typeflag: tar.TypeReg, Mode: 0o6755, Uid: plainUID, Gid: plainUID}, "mine"},
		entry{tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "ro/su", Uid: plainUID, Gid: plainUID,
			PAXRecords: map[string]string{xattrPrefix + "user.l": "x"}}, ""},
	)
}

// TestUnpackPlainUser: a plain user's lossy unpack restores what it can,
// leaves out owners, device nodes, setuid bits and privileged xattrs, and
// counts each; nothing of it fails the unpack.
func TestUnpackPlainUser(t *testing.T) {
	dst := t.TempDir()
	var st Stats
	var err error
	asPlainUser(t, []string{dst}, func() {
		st, err = Unpack(context.Background(), bytes.NewReader(plainTree(t)), dst, Options{Lossy: true})
	})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	want := Dropped{Owners: 2, Devices: 2, SetID: 1, Xattrs: 3}
	if st.Dropped != want {
		t.Errorf("dropped %+v, want %+v", st.Dropped, want)
	}
	if got := st.Dropped.String(); got != "the owners of 2 entries, 2 device nodes, the setuid/setgid bits of 1 entry, 3 extended attributes" {
		t.Errorf("summary %q", got)
	}
	var s unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, "ro/su"), &s); err != nil || s.Mode&0o7777 != 0o755 || s.Uid != plainUID {
		t.Errorf("ro/su: mode %o uid %d, %v; want 0755 owned by the user", s.Mode&0o7777, s.Uid, err)
	}
	if err := unix.Lstat(filepath.Join(dst, "ro"), &s); err != nil || s.Mode&0o7777 != 0o555 {
		t.Errorf("ro: mode %o, %v; want 0555 once its entries are in", s.Mode&0o7777, err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "ro/su"), "user.ok", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("user.ok = %q, %v", buf[:max(n, 0)], err)
	}
	for _, gone := range []string{"null", "null2"} {
		if _, err := os.Lstat(filepath.Join(dst, gone)); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it left out", gone, err)
		}
	}
	if err := unix.Lstat(filepath.Join(dst, "fifo"), &s); err != nil || s.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: %v", err)
	}
	if err := unix.Lstat(filepath.Join(dst, "mine"), &s); err != nil || s.Mode&0o7777 != 0o6755 {
		t.Errorf("mine: mode %o, %v; want 06755 kept, its owner is the user", s.Mode&0o7777, err)
	}
}

// TestUnpackPlainUserStrict: without Lossy, an xattr the kernel refuses is
// an error, as the guest needs.
func TestUnpackPlainUserStrict(t *testing.T) {
	dst := t.TempDir()
	var err error
	asPlainUser(t, []string{dst}, func() {
		_, err = Unpack(context.Background(), bytes.NewReader(plainTree(t)), dst, Options{})
	})
	if err == nil || !strings.Contains(err.Error(), "set xattr") {
		t.Fatalf("err = %v, want a refused xattr", err)
	}
}

// TestUnpackRootKeepsAll: as root with Owners, the same archive comes back
// whole but for the user xattr on a symlink, which Linux refuses even to
// root (Pack never finds one).
func TestUnpackRootKeepsAll(t *testing.T) {
	needRoot(t)
	dst := t.TempDir()
	st, err := Unpack(context.Background(), bytes.NewReader(plainTree(t)), dst, Options{Owners: true, Lossy: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped != (Dropped{Xattrs: 1}) || st.Dropped.String() != "1 extended attribute" {
		t.Errorf("dropped %+v", st.Dropped)
	}
	var s unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, "ro/su"), &s); err != nil || s.Mode&0o7777 != 0o4755 || s.Uid != 0 {
		t.Errorf("ro/su: mode %o uid %d, %v", s.Mode&0o7777, s.Uid, err)
	}
	if err := unix.Lstat(filepath.Join(dst, "null2"), &s); err != nil || s.Rdev != unix.Mkdev(1, 3) || s.Nlink != 2 {
		t.Errorf("null2: rdev %d nlink %d, %v", s.Rdev, s.Nlink, err)
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "ro/su"), "security.capability", buf); err != nil || !bytes.Equal(buf[:n], capNetRaw) {
		t.Errorf("security.capability = %x, %v", buf[:max(n, 0)], err)
	}
}
