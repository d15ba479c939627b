package deb

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "." {
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestCleanup: what differs between builds goes, apt's locks and partial
// directories are left as apt leaves them, and mtimes are clamped.
func TestCleanup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the partial directories belong to _apt")
	}
	args := stagetest.Args(t, `{}`)
	tr := args.Tree
	for rel, body := range map[string]string{
		"usr/bin/apt-get":                      "ELF",
		"etc/passwd":                           "root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n",
		"etc/machine-id":                       "0123456789abcdef0123456789abcdef\n",
		"var/lib/apt/lists/deb_dists_Packages": "x",
		"var/lib/apt/lists/auxfiles/x":         "x",
		"var/cache/apt/pkgcache.bin":           "x",
		"var/cache/apt/archives/a.deb":         "x",
		"var/log/dpkg.log":                     "x",
		"var/log/apt/term.log":                 "x",
		"var/log/alternatives.log":             "x",
		"var/log/wtmp":                         "",
		"var/cache/ldconfig/aux-cache":         "x",
		"run/lock/keep":                        "",
		"run/systemd/x":                        "x",
		"tmp/junk":                             "x",
	} {
		stagetest.Write(t, tr, rel, body)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if err := Cleanup(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"etc", "etc/machine-id", "etc/passwd", "run", "run/lock", "run/lock/keep", "tmp",
		"usr", "usr/bin", "usr/bin/apt-get", "var", "var/cache", "var/cache/apt", "var/cache/apt/archives",
		"var/cache/apt/archives/lock", "var/cache/apt/archives/partial", "var/cache/ldconfig",
		"var/lib", "var/lib/apt", "var/lib/apt/lists", "var/lib/apt/lists/lock", "var/lib/apt/lists/partial",
		"var/log", "var/log/apt", "var/log/wtmp",
	}
	if d := cmp.Diff(want, listTree(t, tr)); d != "" {
		t.Errorf("tree after cleanup (-want +got):\n%s", d)
	}
	if got := stagetest.Read(t, tr, "etc/machine-id"); got != "" {
		t.Errorf("machine-id = %q, want empty", got)
	}
	for _, d := range []string{"var/lib/apt/lists/partial", "var/cache/apt/archives/partial"} {
		fi, err := os.Lstat(filepath.Join(tr, d))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
		if uid := ownerOf(t, filepath.Join(tr, d)); uid != 42 {
			t.Errorf("%s belongs to uid %d, want _apt (42)", d, uid)
		}
	}
	epoch := time.Unix(1700000000, 0)
	filepath.Walk(tr, func(p string, fi os.FileInfo, err error) error {
		if fi.ModTime().After(epoch) {
			t.Errorf("%s: mtime %v after source-epoch", strings.TrimPrefix(p, tr), fi.ModTime())
		}
		return nil
	})
}

// TestCleanupWithoutEpochKeepsTimes: no source-epoch, no clamping.
func TestCleanupWithoutEpochKeepsTimes(t *testing.T) {
	args := stagetest.Args(t, `{}`)
	stagetest.Write(t, args.Tree, "etc/x", "x")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	before := time.Now().Add(-time.Minute)
	if err := Cleanup(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(args.Tree, "etc/x"))
	if err != nil || fi.ModTime().Before(before) {
		t.Errorf("mtime changed without source-epoch: %v %v", fi.ModTime(), err)
	}
}

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid)
}
