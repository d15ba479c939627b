package api

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func mkTree(t *testing.T) Root {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/lib", "usr/share/zoneinfo/Europe", "real"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lib":        "usr/lib",
		"abs":        "/usr/lib",
		"up":         "../../../..",
		"etc":        "/",
		"loop1":      "loop2",
		"loop2":      "loop1",
		"real/local": "../usr/share/zoneinfo/Europe/Berlin",
		"dotdot":     "real/../usr",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	return Root(root)
}

func TestResolve(t *testing.T) {
	root := mkTree(t)
	cases := []struct {
		in, want, wantParent string
	}{
		{"/usr/lib/x", "/usr/lib/x", "/usr/lib/x"},
		{"usr/lib/x", "/usr/lib/x", "/usr/lib/x"},
		{"/lib/x", "/usr/lib/x", "/usr/lib/x"},
		{"/lib", "/usr/lib", "/lib"},
		{"/abs/x", "/usr/lib/x", "/usr/lib/x"},
		{"/up/x", "/x", "/x"},
		{"/etc/hostname", "/hostname", "/hostname"},
		{"/../../etc/passwd", "/passwd", "/passwd"},
		{"/real/local", "/usr/share/zoneinfo/Europe/Berlin", "/real/local"},
		{"/dotdot/lib", "/usr/lib", "/usr/lib"},
		{"/missing/a/../b", "/missing/b", "/missing/b"},
		{"/", "/", "/"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := root.Resolve(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(string(root), tc.want); got != want {
				t.Errorf("Resolve = %s, want %s", got, want)
			}
			got, err = root.ResolveParent(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(string(root), tc.wantParent); got != want {
				t.Errorf("ResolveParent = %s, want %s", got, want)
			}
		})
	}
}

func TestResolveLoop(t *testing.T) {
	root := mkTree(t)
	if _, err := root.Resolve("/loop1/x"); !errors.Is(err, ErrSymlinkLoop) {
		t.Errorf("got %v, want ErrSymlinkLoop", err)
	}
}

func TestWriteFileStaysInside(t *testing.T) {
	root := mkTree(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(string(root), "away")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/away/f", "/etc/f", "/up/g"} {
		if err := root.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the tree: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(string(root), outside, "f")); err != nil {
		t.Errorf("absolute link not resolved inside the tree: %v", err)
	}
	for _, f := range []string{"f", "g"} {
		if _, err := os.Stat(filepath.Join(string(root), f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestRemoveAndSymlink(t *testing.T) {
	root := mkTree(t)
	if err := root.Symlink("/usr/lib", "/lib"); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(filepath.Join(string(root), "lib")); target != "/usr/lib" {
		t.Errorf("symlink target %q", target)
	}
	removed, err := root.Remove("/lib")
	if err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(string(root), "usr/lib")); err != nil {
		t.Error("Remove followed the link")
	}
	if removed, err := root.Remove("/lib"); err != nil || removed {
		t.Errorf("second Remove = %v, %v", removed, err)
	}
}
