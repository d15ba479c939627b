package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// File names inside an object directory.
const (
	treeFile = "tree.tar"
	metaFile = "meta.json"
	infoFile = "info.json"
	lockName = "object.lock"
)

// Object is a committed tree. Dir is objects/<id> when it is cached, or a
// directory of this run under tmp/ when the size limit kept it out of the
// cache (a floating object, gone at Close). Either way it is immutable.
type Object struct {
	ID  string
	Dir string
}

// TreePath returns the object's tree archive (PAX tar).
func (o *Object) TreePath() string { return filepath.Join(o.Dir, treeFile) }

// Meta returns the stage metadata recorded at commit: stage id -> metadata.
func (o *Object) Meta() (map[string]json.RawMessage, error) {
	data, err := os.ReadFile(filepath.Join(o.Dir, metaFile))
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", o.ID, err)
	}
	meta := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", o.ID, err)
	}
	return meta, nil
}

// Lookup returns the object id if this run committed it or the cache holds
// it, as osbuild's ObjectStore.get. A cached object is marked as used now
// (LRU) and stays pinned, safe from eviction by any run, until Close. An
// invalid id or a closed store is simply a miss.
func (s *Store) Lookup(id string) (*Object, bool) {
	if ValidateID(id) != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if o, ok := s.floating[id]; ok {
		return o, true
	}
	dir := filepath.Join(s.root, "objects", id)
	if _, ok := s.held[id]; !ok {
		f, err := pinObject(dir)
		if err != nil {
			return nil, false
		}
		s.held[id] = f
	}
	return &Object{ID: id, Dir: dir}, true
}

// pinObject takes a shared lock on a committed object and records the use.
// An object being evicted (exclusively locked) or incomplete is a miss.
func pinObject(dir string) (*os.File, error) {
	f, err := lockFile(filepath.Join(dir, lockName), unix.LOCK_SH|unix.LOCK_NB, false)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(dir, infoFile)); err != nil {
		f.Close()
		return nil, err
	}
	if err := touch(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// touch sets the lock file's atime to now, leaving its mtime: the atime is
// the object's last use, which eviction orders by.
func touch(lock string) error {
	ts := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_OMIT}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, lock, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("mark %s used: %w", lock, err)
	}
	return nil
}

// Present returns those of ids that Lookup finds, in the order given, and
// pins them for the rest of the run, so that what the planner decided to
// reuse cannot be evicted by another run before it is used. This is
// osbuild's ObjectStore.contains.
func (s *Store) Present(ids []string) []string {
	var have []string
	for _, id := range ids {
		if _, ok := s.Lookup(id); ok {
			have = append(have, id)
		}
	}
	return have
}

// Cached reports whether id is committed to the cache itself, not only
// floating in this run (osbuild's contains(only_cached=True), which the
// CLI uses to print "cached" / "not cached" for checkpoints).
func (s *Store) Cached(id string) bool {
	if ValidateID(id) != nil {
		return false
	}
	_, err := os.Lstat(filepath.Join(s.root, "objects", id, infoFile))
	return err == nil
}

// ErrNoTree reports a commit of a pending object whose tree.tar is missing.
var ErrNoTree = errors.New("pending object has no tree.tar")
