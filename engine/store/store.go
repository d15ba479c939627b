package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Options configure a Store. The zero value keeps the size limit that the
// store recorded earlier; a store that never had one caches nothing.
type Options struct {
	// MaxSize is --cache-max-size in bytes, or Unlimited. When set it is
	// recorded in the store and applies to later runs as well, as in
	// osbuild. When nil, the recorded limit applies; a new store records
	// none, which osbuild reads as 0: no object is ever committed to the
	// cache, checkpoints included. Trees then live only for the run that
	// built them (floating objects, see Pending.Commit).
	MaxSize *int64
}

// Store is an open object store. Its methods are safe for concurrent use.
type Store struct {
	root   string
	run    string   // tmp/<run>/: this run's pending and floating objects
	runLck *os.File // tmp/<run>.lock, held exclusively while open
	limit  int64    // effective maximum size in bytes, or Unlimited

	mu       sync.Mutex
	closed   bool
	held     map[string]*os.File // object id -> shared lock on objects/<id>/object.lock
	floating map[string]*Object  // committed but not cached: lives in tmp/<run>/floating/
	verified map[string]bool     // objects whose tree.tar matched its digest in this run
	bad      map[string]bool     // stale or damaged objects this run no longer uses
	seq      int
}

// Open opens the store at dir, creating its layout if needed, removes what
// dead runs left under tmp/, records opts.MaxSize if set and registers this
// run. Close must be called to release the run's objects and locks.
func Open(dir string, opts Options) (*Store, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if err := createLayout(root); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	if err := recoverTmp(filepath.Join(root, "tmp")); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	limit, err := loadLimit(root, opts.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	run, lck, err := newRun(filepath.Join(root, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	return &Store{root: root, run: run, runLck: lck, limit: limit, held: map[string]*os.File{},
		floating: map[string]*Object{}, verified: map[string]bool{}, bad: map[string]bool{}}, nil
}

// cacheDirTag is the signature of the Cache Directory Tagging Specification.
const cacheDirTag = "Signature: 8a477f597d28d172789f06886806bc55\n" +
	"# This file is a cache directory tag created by osbuild-vm.\n"

// createLayout makes the store's directories and bookkeeping files.
func createLayout(root string) error {
	for _, d := range []string{"objects", "sources", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	tag := filepath.Join(root, "CACHEDIR.TAG")
	if _, err := os.Stat(tag); errors.Is(err, os.ErrNotExist) {
		return writeFileSync(tag, []byte(cacheDirTag))
	}
	return nil
}

// Root returns the store's directory (absolute).
func (s *Store) Root() string { return s.root }

// Limit returns the size limit in force for this run: bytes, or Unlimited.
func (s *Store) Limit() int64 { return s.limit }

// SourceDir returns the directory holding source items of the given
// content type (osbuild's "org.osbuild.files" for curl and inline items),
// <store>/sources/<typ>. It does not create it. A typ that is not a single
// plain path element yields a path under sources/invalid, which nothing
// ever fetches into.
func (s *Store) SourceDir(typ string) string {
	if typ == "" || typ == "." || typ == ".." || filepath.Base(typ) != typ {
		typ = "invalid"
	}
	return filepath.Join(s.root, "sources", typ)
}

// Close trims the cache to its size limit (least recently used first),
// releases every object this run used, removes this run's pending and
// floating objects and unregisters the run. Objects returned by this store
// must not be used afterwards. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.held
	s.held, s.floating = nil, nil
	s.mu.Unlock()

	var errs []error
	for _, f := range held {
		errs = append(errs, f.Close())
	}
	errs = append(errs, s.trim())
	errs = append(errs, os.RemoveAll(s.run))
	errs = append(errs, os.Remove(s.runLck.Name()))
	errs = append(errs, s.runLck.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.root, err)
	}
	return nil
}

// ErrClosed reports use of a Store after Close.
var ErrClosed = errors.New("store closed")

// nextName returns a fresh name for an entry under tmp/<run>/.
func (s *Store) nextName(prefix string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	s.seq++
	return filepath.Join(s.run, fmt.Sprintf("%s-%d", prefix, s.seq)), nil
}

// RunDir returns this run's directory under tmp/, which the store and its
// caller use for what lives only as long as the run. Pending objects are
// written there, in no directory the build VM can see.
func (s *Store) RunDir() string { return s.run }

// FloatingDir returns tmp/<run>/floating/, where this run's floating
// objects live: the only part of the run's area that the build VM needs
// (read-only), to open a tree from a floating object.
func (s *Store) FloatingDir() string { return filepath.Join(s.run, floatingDir) }

// floatingDir is FloatingDir's name in tmp/<run>/.
const floatingDir = "floating"
