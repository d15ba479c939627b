package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
	"golang.org/x/sys/unix"
)

// Pending is an object being built: a directory of this run under tmp/
// that WriteTree fills before Commit. Nobody else sees it, the build VM
// included: no share holds it.
type Pending struct {
	s      *Store
	id     string
	dir    string
	sha256 string // of tree.tar, set by WriteTree
	done   bool
}

// NewObject starts the object id (validated before it becomes a path).
func (s *Store) NewObject(id string) (*Pending, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("new object: %w", err)
	}
	dir, err := s.nextName("pending")
	if err != nil {
		return nil, fmt.Errorf("new object %s: %w", id, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("new object %s: %w", id, err)
	}
	return &Pending{s: s, id: id, dir: dir}, nil
}

// Dir returns the pending object's directory.
func (p *Pending) Dir() string { return p.dir }

// treePath is where WriteTree writes the tree archive.
func (p *Pending) treePath() string { return filepath.Join(p.dir, treeFile) }

// WriteTree creates the object's tree.tar (a treetar archive, of version
// treetar.Version) from what write writes to w, hashing it on the way: the
// digest recorded at Commit is of the bytes the store itself wrote, so no
// one can hand it a digest that does not match. The file is new (O_EXCL)
// and synced before WriteTree returns.
func (p *Pending) WriteTree(write func(w io.Writer) error) error {
	if p.done || p.sha256 != "" {
		return fmt.Errorf("write tree of %s: %w", p.id, ErrDone)
	}
	f, err := os.OpenFile(p.treePath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("write tree of %s: %w", p.id, err)
	}
	defer f.Close()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("write tree of %s: %w", p.id, err)
	}
	p.sha256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// ID returns the id the object will be committed as.
func (p *Pending) ID() string { return p.id }

// SHA256 returns the digest of the tree.tar that WriteTree wrote, as the
// store computed it, or "" before WriteTree: a caller importing a tree
// whose digest it was promised (a remote cache) compares the two before
// Commit.
func (p *Pending) SHA256() string { return p.sha256 }

// ErrDone reports use of a Pending after Commit or Abort.
var ErrDone = errors.New("pending object already committed or aborted")

// Abort discards the pending object.
func (p *Pending) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("abort object %s: %w", p.id, err)
	}
	return nil
}

// Commit seals the object with its stage metadata (stage id -> metadata)
// and makes it available to Lookup for the rest of the run. It is stored in
// the cache if the size limit allows, evicting least recently used objects
// of any run that are not in use, exactly as osbuild's FsCache.store: an
// object larger than the limit, or any object under the default limit of
// 0, stays floating (this run only). If another run committed the same id
// first, its object is returned and this one is discarded; both are
// complete, equal by content ID. On error the pending object is removed.
func (p *Pending) Commit(meta map[string]json.RawMessage) (*Object, error) {
	if p.done {
		return nil, fmt.Errorf("commit object %s: %w", p.id, ErrDone)
	}
	p.done = true
	size, err := p.seal(meta)
	if err != nil {
		os.RemoveAll(p.dir)
		return nil, fmt.Errorf("commit object %s: %w", p.id, err)
	}
	o, err := p.s.place(p.id, p.dir, size, p.sha256)
	if err != nil {
		os.RemoveAll(p.dir)
		return nil, fmt.Errorf("commit object %s: %w", p.id, err)
	}
	return o, nil
}

// seal writes meta.json, info.json and object.lock, fsyncs everything and
// returns the object's size on disk.
func (p *Pending) seal(meta map[string]json.RawMessage) (int64, error) {
	if p.sha256 == "" {
		return 0, ErrNoTree
	}
	if meta == nil {
		meta = map[string]json.RawMessage{}
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return 0, fmt.Errorf("encode metadata: %w", err)
	}
	if err := writeFileSync(filepath.Join(p.dir, metaFile), data); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(p.dir, lockName), nil, 0o644); err != nil {
		return 0, err
	}
	size, err := diskUsage(p.dir)
	if err != nil {
		return 0, err
	}
	info, err := json.Marshal(objectInfo{Size: size, Format: treetar.Version, SHA256: p.sha256})
	if err != nil {
		return 0, err
	}
	if err := writeFileSync(filepath.Join(p.dir, infoFile), append(info, '\n')); err != nil {
		return 0, err
	}
	return size, nil
}

// place moves a sealed object into the cache, or keeps it floating.
func (s *Store) place(id, dir string, size int64, sum string) (*Object, error) {
	if o, ok := s.Lookup(id); ok {
		return o, os.RemoveAll(dir)
	}
	pin, err := lockFile(filepath.Join(dir, lockName), unix.LOCK_SH, false)
	if err != nil {
		return nil, err
	}
	cached, err := s.admit(id, dir, size)
	if err != nil {
		pin.Close()
		return nil, err
	}
	if cached {
		return s.hold(id, pin, sum)
	}
	pin.Close()
	if o, ok := s.Lookup(id); ok { // another run committed id first
		return o, os.RemoveAll(dir)
	}
	return s.float(id, dir, sum)
}

// float keeps a committed object out of the cache, in tmp/<run>/floating/,
// the one part of this run's area the build VM may read.
func (s *Store) float(id, dir, sum string) (*Object, error) {
	o := &Object{ID: id, Dir: filepath.Join(s.FloatingDir(), id), SHA256: sum}
	if err := os.Rename(dir, o.Dir); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.floating[id] = o
	s.verified[id] = true // hashed as it was written
	delete(s.bad, id)
	return o, nil
}

// hold records the pin on a freshly cached object and marks it used.
func (s *Store) hold(id string, pin *os.File, sum string) (*Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		pin.Close()
		return nil, ErrClosed
	}
	if old, ok := s.held[id]; ok {
		old.Close()
	}
	s.held[id] = pin
	s.verified[id] = true // hashed as it was written
	delete(s.bad, id)
	dir := filepath.Join(s.root, "objects", id)
	return &Object{ID: id, Dir: dir, SHA256: sum}, touch(filepath.Join(dir, lockName))
}

// admit makes room under the limit and renames dir to objects/<id>. It
// reports false when the object is not cached: it does not fit, or another
// run won the race for id and this copy stays floating.
func (s *Store) admit(id, dir string, size int64) (bool, error) {
	if s.limit == 0 || (s.limit != Unlimited && size > s.limit) {
		return false, nil
	}
	unlock, err := lockEvict(s.root)
	if err != nil {
		return false, err
	}
	defer unlock()
	if s.limit != Unlimited {
		if fits, err := s.makeRoom(size); err != nil || !fits {
			return false, err
		}
	}
	if beforeRename != nil {
		beforeRename()
	}
	objects := filepath.Join(s.root, "objects")
	err = os.Rename(dir, filepath.Join(objects, id))
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, durable.SyncDir(objects)
}

// beforeRename, when set by a test, runs just before a sealed object is
// renamed into the cache, so a test can kill the process mid-commit.
var beforeRename func()
