package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testID returns a valid id derived from n.
func testID(n int) string { return fmt.Sprintf("%064x", n+1) }

func ptr(n int64) *int64 { return &n }

func mustOpen(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// commit writes a tree of n bytes of c and commits it as id.
func commit(t *testing.T, s *Store, id string, n int, c byte) *Object {
	t.Helper()
	o, err := tryCommit(s, id, n, c)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func tryCommit(s *Store, id string, n int, c byte) (*Object, error) {
	p, err := s.NewObject(id)
	if err != nil {
		return nil, err
	}
	if err := p.WriteTree(func(w io.Writer) error {
		_, err := w.Write(bytes.Repeat([]byte{c}, n))
		return err
	}); err != nil {
		return nil, err
	}
	return p.Commit(map[string]json.RawMessage{"stage-" + id[60:]: json.RawMessage(`{"k":1}`)})
}

// tmpEntries lists tmp/ without the given store's own run.
func tmpEntries(t *testing.T, dir string, live ...*Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		own := false
		for _, s := range live {
			own = own || strings.HasPrefix(filepath.Join(dir, "tmp", e.Name()), s.run)
		}
		if !own {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestCommitLookupUnlimited(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	id := testID(1)
	o := commit(t, s, id, 1000, 'a')
	if want := filepath.Join(dir, "objects", id); o.Dir != want {
		t.Fatalf("Dir = %s, want %s", o.Dir, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := mustOpen(t, dir, Options{})
	if s2.Limit() != Unlimited {
		t.Fatalf("recorded limit = %d, want Unlimited", s2.Limit())
	}
	got, ok := s2.Lookup(id)
	if !ok {
		t.Fatal("committed object not found by a later run")
	}
	data, err := os.ReadFile(got.TreePath())
	if err != nil || !bytes.Equal(data, bytes.Repeat([]byte{'a'}, 1000)) {
		t.Fatalf("tree.tar = %d bytes, %v", len(data), err)
	}
	meta, err := got.Meta()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]json.RawMessage{"stage-" + id[60:]: json.RawMessage(`{"k":1}`)}
	if diff := cmp.Diff(want, meta); diff != "" {
		t.Fatalf("Meta() diff (-want +got):\n%s", diff)
	}
	if !s2.Cached(id) {
		t.Fatal("Cached = false for a committed object")
	}
	if have := s2.Present([]string{testID(7), id, "bogus"}); !cmp.Equal(have, []string{id}) {
		t.Fatalf("Present = %v", have)
	}
}

func TestDefaultCachesNothing(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if s.Limit() != 0 {
		t.Fatalf("default limit = %d, want 0", s.Limit())
	}
	id := testID(1)
	o := commit(t, s, id, 100, 'a')
	if !strings.HasPrefix(o.Dir, filepath.Join(dir, "tmp")) {
		t.Fatalf("object under default limit is in %s, want floating under tmp/", o.Dir)
	}
	if got, ok := s.Lookup(id); !ok || got.Dir != o.Dir {
		t.Fatalf("floating object not found in its own run: %v %v", got, ok)
	}
	if s.Cached(id) {
		t.Fatal("Cached = true under the default limit")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("floating object survived Close: %v", err)
	}
	s2 := mustOpen(t, dir, Options{})
	if _, ok := s2.Lookup(id); ok {
		t.Fatal("floating object visible to a later run")
	}
}

func TestTooLargeStaysFloating(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{MaxSize: ptr(1024)})
	o := commit(t, s, testID(1), 100000, 'x')
	if s.Cached(o.ID) || !strings.Contains(o.Dir, "tmp") {
		t.Fatalf("object over the limit was cached at %s", o.Dir)
	}
}

func TestInvalidInput(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{MaxSize: ptr(Unlimited)})
	if _, err := s.NewObject("../../etc"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("NewObject(bad id) = %v, want ErrInvalidID", err)
	}
	if _, ok := s.Lookup("../objects"); ok {
		t.Fatal("Lookup accepted an invalid id")
	}
	p, err := s.NewObject(testID(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(nil); !errors.Is(err, ErrNoTree) {
		t.Fatalf("Commit without tree = %v, want ErrNoTree", err)
	}
	if _, err := p.Commit(nil); !errors.Is(err, ErrDone) {
		t.Fatalf("second Commit = %v, want ErrDone", err)
	}
	if _, err := os.Stat(p.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("failed commit left its directory")
	}
	for typ, want := range map[string]string{
		"org.osbuild.files": "org.osbuild.files", "../x": "invalid", "a/b": "invalid", "..": "invalid",
	} {
		if got := s.SourceDir(typ); got != filepath.Join(s.Root(), "sources", want) {
			t.Errorf("SourceDir(%q) = %s", typ, got)
		}
	}
}

func TestAbort(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{MaxSize: ptr(Unlimited)})
	p, err := s.NewObject(testID(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteTree(func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(testID(1)); ok {
		t.Fatal("aborted object found")
	}
	if _, err := p.Commit(nil); !errors.Is(err, ErrDone) {
		t.Fatalf("Commit after Abort = %v", err)
	}
}

// setLastUse backdates an object's last use (the lock file's atime).
func setLastUse(t *testing.T, dir, id string, at time.Time) {
	t.Helper()
	lock := filepath.Join(dir, "objects", id, lockName)
	st, err := os.Stat(lock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(lock, at, st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func objectSize(t *testing.T, s *Store, id string) int64 {
	t.Helper()
	e, ok := readEntry(filepath.Join(s.root, "objects", id), id)
	if !ok {
		t.Fatalf("object %s not cached", id)
	}
	return e.size
}

func cachedIDs(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(dir, "objects"))
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	sort.Strings(ids)
	return ids
}

func TestLRUEviction(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	for i := range 3 {
		commit(t, s, testID(i), 8000, 'a')
	}
	sz := objectSize(t, s, testID(0))
	s.Close()
	base := time.Unix(1700000000, 0)
	setLastUse(t, dir, testID(0), base.Add(2*time.Hour)) // most recent
	setLastUse(t, dir, testID(1), base)                  // oldest
	setLastUse(t, dir, testID(2), base.Add(time.Hour))

	// Room for 3.5 objects: the fourth needs half an object; like osbuild
	// we free twice the new object's size, so the two oldest go.
	s2 := mustOpen(t, dir, Options{MaxSize: ptr(sz*3 + sz/2)})
	commit(t, s2, testID(3), 8000, 'b')
	want := []string{testID(0), testID(3)}
	if got := cachedIDs(t, dir); !cmp.Equal(got, want) {
		t.Fatalf("after eviction cached = %v, want %v", got, want)
	}
}

func TestInUseNotEvicted(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	commit(t, s, testID(0), 8000, 'a')
	sz := objectSize(t, s, testID(0))
	s.Close()

	user := mustOpen(t, dir, Options{})
	if _, ok := user.Lookup(testID(0)); !ok {
		t.Fatal("lookup")
	}
	s2 := mustOpen(t, dir, Options{MaxSize: ptr(sz + sz/2)})
	o := commit(t, s2, testID(1), 8000, 'b')
	if !user.Cached(testID(0)) {
		t.Fatal("an object in use by another run was evicted")
	}
	if s2.Cached(o.ID) {
		t.Fatal("object cached although the limit could not be met")
	}
}

func TestTrimOnClose(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	for i := range 3 {
		commit(t, s, testID(i), 8000, 'a')
	}
	sz := objectSize(t, s, testID(0))
	s.Close()
	base := time.Unix(1700000000, 0)
	for i := range 3 {
		setLastUse(t, dir, testID(i), base.Add(time.Duration(i)*time.Hour))
	}
	s2 := mustOpen(t, dir, Options{MaxSize: ptr(sz)})
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cachedIDs(t, dir); !cmp.Equal(got, []string{testID(2)}) {
		t.Fatalf("after trim cached = %v, want only the most recent", got)
	}
}

func TestConcurrentCommitSameID(t *testing.T) {
	dir := t.TempDir()
	id := testID(9)
	const runs = 4
	stores := make([]*Store, runs)
	for i := range stores {
		stores[i] = mustOpen(t, dir, Options{MaxSize: ptr(Unlimited)})
	}
	objs := make([]*Object, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { objs[i], errs[i] = tryCommit(s, id, 50000, 'z') })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		data, err := os.ReadFile(o.TreePath())
		if err != nil || len(data) != 50000 {
			t.Fatalf("run %d: tree %d bytes, %v", i, len(data), err)
		}
	}
	if got := cachedIDs(t, dir); !cmp.Equal(got, []string{id}) {
		t.Fatalf("objects = %v", got)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if left := tmpEntries(t, dir); len(left) != 0 {
		t.Fatalf("tmp/ not empty after all runs closed: %v", left)
	}
}

func TestRecoverIgnoresLiveRuns(t *testing.T) {
	dir := t.TempDir()
	live := mustOpen(t, dir, Options{})
	p, err := live.NewObject(testID(1))
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "tmp", "stray-dir")
	os.MkdirAll(junk, 0o755)
	other := mustOpen(t, dir, Options{})
	if _, err := os.Stat(p.Dir()); err != nil {
		t.Fatalf("Open of a second run removed a live run's pending object: %v", err)
	}
	if _, err := os.Stat(junk); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a directory without a run lock survived Open")
	}
	_ = other
}
