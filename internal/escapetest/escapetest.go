// Package escapetest lets a test prove that code which writes a tree from
// untrusted input (an archive extractor) wrote nothing outside the tree's
// directory. It surrounds the destination with a tree of sentinels (files,
// a directory, symlinks to them and to the destination's parents) inside
// the test's own temporary root, and compares a full listing of that root,
// destination excluded, before and after: a file created, changed, chmodded
// or removed anywhere the code under test could reach through "..", a
// symlink or a hard link shows up in the difference.
package escapetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Area is a temporary root holding a destination and sentinels around it.
type Area struct {
	// Root is the test's temporary root; everything below it but Dest is
	// watched.
	Root string
	// Dest is the empty directory to extract into, two levels below Root:
	// "../.." from it is still inside Root.
	Dest   string
	before map[string]string
}

// Sentinels are the paths (relative to Root) of what New puts around the
// destination, for seeds and tests that aim at them.
var Sentinels = []string{"outside/secret", "outside/dir/file", "outside/link", "a/b/sibling"}

// New makes an Area in a fresh t.TempDir and records its listing.
func New(t testing.TB) *Area {
	t.Helper()
	root := t.TempDir()
	a := &Area{Root: root, Dest: filepath.Join(root, "a", "b", "dest")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "outside", "dir"), 0o755))
	must(os.MkdirAll(a.Dest, 0o755))
	must(os.WriteFile(filepath.Join(root, "outside", "secret"), []byte("keep\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "outside", "dir", "file"), []byte("keep too\n"), 0o600))
	must(os.WriteFile(filepath.Join(root, "a", "b", "sibling"), []byte("beside\n"), 0o644))
	must(os.Symlink("secret", filepath.Join(root, "outside", "link")))
	must(os.Symlink("../../outside", filepath.Join(root, "a", "b", "up")))
	a.before = a.list(t)
	return a
}

// Check fails t if anything below Root but Dest differs from when New
// recorded it.
func (a *Area) Check(t testing.TB) {
	t.Helper()
	after := a.list(t)
	var diffs []string
	for p, was := range a.before {
		if now, ok := after[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s removed (was %s)", p, was))
		} else if now != was {
			diffs = append(diffs, fmt.Sprintf("%s changed: %s -> %s", p, was, now))
		}
	}
	for p, now := range after {
		if _, ok := a.before[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s created: %s", p, now))
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("wrote outside the destination:\n%s", strings.Join(diffs, "\n"))
	}
}

// list describes every entry below Root but Dest: type, mode, owner, size,
// mtime, link count, content digest or link target, xattrs.
func (a *Area) list(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(a.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == a.Dest {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(a.Root, p)
		desc, err := describe(p)
		out[rel] = desc
		return err
	})
	if err != nil {
		t.Fatalf("list %s: %v", a.Root, err)
	}
	return out
}

func describe(p string) (string, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return "", err
	}
	desc := fmt.Sprintf("mode %o uid %d gid %d size %d nlink %d mtime %d.%09d",
		st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Mtim.Sec, st.Mtim.Nsec)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		sum, err := digest(p)
		if err != nil {
			return "", err
		}
		desc += " sha256 " + sum
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		desc += " -> " + target
	}
	return desc + xattrs(p), nil
}

// digest hashes a regular file without following a symlink put in its
// place.
func digest(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// xattrs lists an entry's extended attribute names and values.
func xattrs(p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	var s strings.Builder
	for _, name := range strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00") {
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			m = 0
		}
		fmt.Fprintf(&s, " xattr %s=%x", name, val[:m])
	}
	return s.String()
}
