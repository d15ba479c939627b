package store

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
	"golang.org/x/sys/unix"
)

// File names inside an object directory.
const (
	treeFile = "tree.tar"
	metaFile = "meta.json"
	infoFile = "info.json"
	lockName = "object.lock"
)

// Object is a committed tree. Dir is objects/<id> when it is cached, or
// tmp/<run>/floating/<id> when the size limit kept it out of the cache (a
// floating object, gone at Close). Either way it is immutable. SHA256 is
// the digest of its tree.tar recorded at commit, which Tree checks before
// handing the object out for use.
type Object struct {
	ID     string
	Dir    string
	SHA256 string
}

// objectInfo is info.json, what a commit records about the object.
type objectInfo struct {
	// Size is the object's bytes on disk, which eviction adds up.
	Size int64 `json:"size"`
	// Format is the treetar.Version tree.tar was written in: a tree of
	// another version is not read but rebuilt.
	Format int `json:"format"`
	// SHA256 is tree.tar's digest, computed as the host wrote it.
	SHA256 string `json:"sha256"`
}

// readInfo reads an object's info.json. An object whose info is unreadable,
// of another format version or without a well-formed digest is stale: it
// is never read.
func readInfo(dir string) (objectInfo, error) {
	var info objectInfo
	data, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("%s: %w", infoFile, err)
	}
	if info.Format != treetar.Version {
		return info, fmt.Errorf("tree format %d, want %d: %w", info.Format, treetar.Version, ErrStale)
	}
	if b, err := hex.DecodeString(info.SHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != info.SHA256 {
		return info, fmt.Errorf("recorded digest %.80q: %w", info.SHA256, ErrStale)
	}
	return info, nil
}

// ErrStale marks an object written by another version of the store or the
// tree format: it is a miss, and is removed so that a rebuild replaces it.
var ErrStale = errors.New("object of another format")

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
// invalid id, a closed store, an object of another format version (which
// is removed from the store when no other run uses it) or one found
// damaged earlier in this run is simply a miss. Lookup does not read the
// tree: Tree checks it before use.
func (s *Store) Lookup(id string) (*Object, bool) {
	if ValidateID(id) != nil {
		return nil, false
	}
	o, stale := s.lookup(id)
	if stale {
		s.drop(id)
	}
	return o, o != nil
}

func (s *Store) lookup(id string) (o *Object, stale bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if o, ok := s.floating[id]; ok {
		return o, false
	}
	if s.bad[id] {
		return nil, false
	}
	dir := filepath.Join(s.root, "objects", id)
	if _, ok := s.held[id]; !ok {
		f, err := pinObject(dir)
		if err != nil {
			return nil, false
		}
		s.held[id] = f
	}
	info, err := readInfo(dir)
	if err != nil {
		return nil, true
	}
	return &Object{ID: id, Dir: dir, SHA256: info.SHA256}, false
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
