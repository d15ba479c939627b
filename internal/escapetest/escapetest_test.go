package escapetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// recorder is a testing.TB whose Fatalf records instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }
func (r *recorder) Helper()                           {}

// TestCheck: writes inside Dest pass; any change elsewhere below Root is
// caught, whatever kind.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		act    func(a *Area) error
		escape bool
	}{
		{"inside", func(a *Area) error { return os.WriteFile(filepath.Join(a.Dest, "f"), []byte("x"), 0o644) }, false},
		{"nothing", func(a *Area) error { return nil }, false},
		{"beside", func(a *Area) error { return os.WriteFile(filepath.Join(a.Dest, "..", "x"), nil, 0o644) }, true},
		{"through link", func(a *Area) error { return os.WriteFile(filepath.Join(a.Root, "outside/link"), []byte("boom"), 0o644) }, true},
		{"chmod", func(a *Area) error { return os.Chmod(filepath.Join(a.Root, "outside/dir/file"), 0o644) }, true},
		{"hard link", func(a *Area) error {
			return os.Link(filepath.Join(a.Root, "outside/secret"), filepath.Join(a.Dest, "h"))
		}, true},
		{"remove", func(a *Area) error { return os.Remove(filepath.Join(a.Root, "a/b/sibling")) }, true},
		{"xattr", func(a *Area) error {
			return setxattr(filepath.Join(a.Root, "outside/secret"))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(t)
			if err := tc.act(a); err != nil {
				t.Fatal(err)
			}
			r := &recorder{TB: t}
			a.Check(r)
			if (r.failed != "") != tc.escape {
				t.Fatalf("escape %v, Check said %q", tc.escape, r.failed)
			}
		})
	}
}

func setxattr(path string) error { return unix.Setxattr(path, "user.x", []byte("y"), 0) }
