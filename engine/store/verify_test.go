package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
)

// TestCommitRecordsDigest: info.json holds the format version and the
// sha256 of the bytes written through WriteTree.
func TestCommitRecordsDigest(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	o := commit(t, s, testID(1), 5000, 'a')
	info, err := readInfo(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(strings.Repeat("a", 5000)))
	if info.Format != treetar.Version || info.SHA256 != hex.EncodeToString(sum[:]) || o.SHA256 != info.SHA256 {
		t.Fatalf("info %+v, object digest %s; want format %d, sha256 %x", info, o.SHA256, treetar.Version, sum)
	}
}

// damage changes one byte of a cached object's tree.tar, as bit rot or
// someone with write access to a shared cache would.
func damage(t *testing.T, dir, id string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "objects", id, treeFile), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{'X'}, 100); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedObjectRebuilt: an object changed on disk after its commit is
// refused by Tree in the next run (ErrDamaged), taken out of the store,
// and a rebuild takes its place.
func TestDamagedObjectRebuilt(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	id := testID(1)
	commit(t, s, id, 5000, 'a')
	s.Close()
	damage(t, dir, id)

	s2 := mustOpen(t, dir, Options{})
	if _, ok := s2.Lookup(id); !ok {
		t.Fatal("Lookup does not find the object (it only reads info.json)")
	}
	if _, err := s2.Tree(id); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Tree of a damaged object = %v, want ErrDamaged", err)
	}
	if got := cachedIDs(t, dir); len(got) != 0 {
		t.Fatalf("damaged object still in the store: %v", got)
	}
	if _, err := s2.Tree(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Tree = %v, want ErrNotFound", err)
	}
	commit(t, s2, id, 5000, 'a')
	if o, err := s2.Tree(id); err != nil || o.Dir != filepath.Join(dir, "objects", id) {
		t.Fatalf("rebuilt object: %v, %v", o, err)
	}
}

// TestDamagedObjectInUseElsewhere: a damaged object another run holds
// stays in the store, but this run neither uses it nor finds it again; its
// rebuild floats.
func TestDamagedObjectInUseElsewhere(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	id := testID(1)
	commit(t, s, id, 5000, 'a')
	s.Close()
	damage(t, dir, id)
	other := mustOpen(t, dir, Options{})
	if _, ok := other.Lookup(id); !ok {
		t.Fatal("lookup by the other run")
	}
	s2 := mustOpen(t, dir, Options{})
	if _, err := s2.Tree(id); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Tree = %v, want ErrDamaged", err)
	}
	if _, ok := s2.Lookup(id); ok {
		t.Fatal("a damaged object is found again in the same run")
	}
	o := commit(t, s2, id, 5000, 'a')
	if !strings.HasPrefix(o.Dir, s2.FloatingDir()) {
		t.Fatalf("rebuild at %s, want floating", o.Dir)
	}
	if got, err := s2.Tree(id); err != nil || got.Dir != o.Dir {
		t.Fatalf("Tree after rebuild = %v, %v", got, err)
	}
}

// TestTreeRefusesSymlink: a tree.tar replaced by a symlink is damaged,
// not followed.
func TestTreeRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	id := testID(1)
	commit(t, s, id, 10, 'a')
	s.Close()
	tree := filepath.Join(dir, "objects", id, treeFile)
	os.Rename(tree, tree+".real")
	if err := os.Symlink(treeFile+".real", tree); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, dir, Options{})
	if _, err := s2.Tree(id); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Tree = %v, want ErrDamaged", err)
	}
}

// TestStaleFormatIsMiss: an object recorded without a format version, with
// another version, or without a well-formed digest is never handed out;
// it is removed and its rebuild is cached in its place.
func TestStaleFormatIsMiss(t *testing.T) {
	cases := map[string]func(sum string) string{
		"no version":    func(string) string { return `{"size":4096}` },
		"older version": func(sum string) string { return `{"size":4096,"format":0,"sha256":"` + sum + `"}` },
		"newer version": func(sum string) string { return `{"size":4096,"format":99,"sha256":"` + sum + `"}` },
		"bad digest":    func(string) string { return `{"size":4096,"format":1,"sha256":"../../x"}` },
		"not json":      func(string) string { return `{` },
	}
	for name, info := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
			id := testID(1)
			o := commit(t, s, id, 10, 'a')
			s.Close()
			if err := os.WriteFile(filepath.Join(dir, "objects", id, infoFile), []byte(info(o.SHA256)), 0o644); err != nil {
				t.Fatal(err)
			}
			s2 := mustOpen(t, dir, Options{})
			if _, ok := s2.Lookup(id); ok {
				t.Fatal("stale object found")
			}
			if got := cachedIDs(t, dir); len(got) != 0 {
				t.Fatalf("stale object not removed: %v", got)
			}
			o2 := commit(t, s2, id, 10, 'a')
			if got := cachedIDs(t, dir); !cmp.Equal(got, []string{id}) || o2.Dir != filepath.Join(dir, "objects", id) {
				t.Fatalf("rebuild not cached: %v at %s", got, o2.Dir)
			}
		})
	}
}

// TestPendingOutsideFloatingDir: pending objects are written where the
// build VM's share (FloatingDir) does not reach; floating ones are moved
// into it.
func TestPendingOutsideFloatingDir(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	p, err := s.NewObject(testID(1))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(p.Dir(), s.FloatingDir()+"/") {
		t.Fatalf("pending object %s inside the VM's share %s", p.Dir(), s.FloatingDir())
	}
	p.WriteTree(func(w io.Writer) error { _, err := w.Write([]byte("t")); return err })
	o, err := p.Commit(map[string]json.RawMessage{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Dir != filepath.Join(s.FloatingDir(), o.ID) {
		t.Fatalf("floating object at %s", o.Dir)
	}
}
