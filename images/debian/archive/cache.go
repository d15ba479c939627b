package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/osbuild-vm/osbuild-vm/internal/durable"
)

// StoreDir is where, under an osbuild store, the index cache lives.
const StoreDir = "debian-archive"

// IndexCache keeps what an Archive fetched and verified, so that resolving
// again downloads nothing:
//
//	<Dir>/
//	├── suites/<sha256 of "mirror\nsuite">.json  the InRelease a (mirror, suite) had, and when it was fetched
//	└── sha256/<hex>                             InRelease files and uncompressed Packages indices, named by SHA256
//
// A Packages index is looked up by the digest the signed Release gives for
// the uncompressed file, and its digest is checked again on every read. An
// InRelease is reused while younger than MaxAge, and only after its
// signature, suite and Valid-Until are checked again; older, it is fetched
// anew (a changed archive then names new index files). Files appear
// complete or not at all (temporary name, fsync, rename).
type IndexCache struct {
	Dir string
	// MaxAge is how long a fetched InRelease stands for the archive's
	// current state; 0 fetches InRelease every time (Packages indices still
	// come from the cache when the new Release names the same ones).
	MaxAge time.Duration
}

// suiteEntry records which InRelease a (mirror, suite) pointed at.
type suiteEntry struct {
	Mirror  string    `json:"mirror"`
	Suite   string    `json:"suite"`
	SHA256  string    `json:"sha256"`
	Fetched time.Time `json:"fetched"`
}

func (c *IndexCache) suitePath(mirror, suite string) string {
	sum := sha256.Sum256([]byte(mirror + "\n" + suite))
	return filepath.Join(c.Dir, "suites", hex.EncodeToString(sum[:])+".json")
}

func (c *IndexCache) blobPath(sum string) string { return filepath.Join(c.Dir, "sha256", sum) }

// inRelease returns the cached InRelease of (mirror, suite) when it was
// fetched less than MaxAge before now.
func (c *IndexCache) inRelease(mirror, suite string, now time.Time) ([]byte, bool) {
	if c == nil || c.MaxAge <= 0 {
		return nil, false
	}
	data, err := os.ReadFile(c.suitePath(mirror, suite))
	if err != nil {
		return nil, false
	}
	var e suiteEntry
	if json.Unmarshal(data, &e) != nil || e.Mirror != mirror || e.Suite != suite || !ValidSHA256(e.SHA256) {
		return nil, false
	}
	if age := now.Sub(e.Fetched); age < 0 || age >= c.MaxAge {
		return nil, false
	}
	blob, err := os.ReadFile(c.blobPath(e.SHA256))
	if err != nil {
		return nil, false
	}
	if got := sha256.Sum256(blob); hex.EncodeToString(got[:]) != e.SHA256 {
		return nil, false
	}
	return blob, true
}

// storeInRelease keeps a verified InRelease and points (mirror, suite) at
// it. A cache that cannot be written only costs a download next time, so
// the error is for the caller to report, not to fail on.
func (c *IndexCache) storeInRelease(mirror, suite string, data []byte, now time.Time) error {
	if c == nil {
		return nil
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	if err := c.writeFile(c.blobPath(sum), data); err != nil {
		return err
	}
	entry, err := json.MarshalIndent(suiteEntry{Mirror: mirror, Suite: suite, SHA256: sum, Fetched: now.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	return c.writeFile(c.suitePath(mirror, suite), entry)
}

// writeFile writes data to path durably.
func (c *IndexCache) writeFile(path string, data []byte) error {
	f, err := c.createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write index cache %s: %w", path, err)
	}
	if err := durable.Commit(f, path); err != nil {
		return fmt.Errorf("write index cache %s: %w", path, err)
	}
	return nil
}

func (c *IndexCache) createTemp(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create index cache %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return nil, fmt.Errorf("create index cache file: %w", err)
	}
	return f, nil
}

// open returns the cached file with the given digest; the caller checks
// the digest while reading.
func (c *IndexCache) open(sum FileSum) (*os.File, error) {
	if !ValidSHA256(sum.SHA256) {
		return nil, os.ErrNotExist
	}
	return os.Open(c.blobPath(sum.SHA256))
}

// cacheFile receives an index's uncompressed bytes while they are read;
// commit puts it in place once everything was verified. The zero value
// (no cache, or nothing to name the file by) discards.
type cacheFile struct {
	f    *os.File
	dest string
	err  error
}

// newFile starts a cached copy of the file plain describes.
func (c *IndexCache) newFile(plain FileSum) *cacheFile {
	if c == nil || !ValidSHA256(plain.SHA256) {
		return &cacheFile{}
	}
	dest := c.blobPath(plain.SHA256)
	f, err := c.createTemp(filepath.Dir(dest))
	return &cacheFile{f: f, dest: dest, err: err}
}

// Write never fails: a cache write error must not fail the download.
func (w *cacheFile) Write(p []byte) (int, error) {
	if w.f != nil && w.err == nil {
		_, w.err = w.f.Write(p)
	}
	return len(p), nil
}

// commit renames the complete, verified file into place.
func (w *cacheFile) commit() {
	if w.f == nil || w.err != nil {
		return
	}
	name := w.f.Name()
	if err := durable.Commit(w.f, w.dest); err != nil {
		w.err = err
		os.Remove(name)
	}
	w.f = nil
}

// discard removes the temporary file unless commit moved it.
func (w *cacheFile) discard() {
	if w.f != nil {
		name := w.f.Name()
		w.f.Close()
		os.Remove(name)
	}
}
