package sources

import (
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// partialPrefix names files being written; each is flocked by its writer.
const partialPrefix = ".partial-"

// ErrTooLarge reports an item larger than Options.MaxItemSize.
var ErrTooLarge = errors.New("item exceeds the size limit")

// writer receives one item's content into a locked temporary file in the
// destination directory, hashing it on the way.
type writer struct {
	f     *os.File
	h     hash.Hash
	sum   Checksum
	dir   string
	n     int64
	limit int64
}

// newWriter creates the temporary file for sum in dir and locks it, so
// that cleanupPartials of a concurrent Fetch leaves it alone.
func newWriter(dir string, sum Checksum, limit int64) (*writer, error) {
	for range 8 {
		f, err := os.CreateTemp(dir, partialPrefix+sum.Algo+"-")
		if err != nil {
			return nil, err
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && stillNamed(f) {
			return &writer{f: f, h: sum.newHash(), sum: sum, dir: dir, limit: limit}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("create temporary file in %s: lost races with cleanup", dir)
}

// stillNamed reports whether f is still linked under its name.
func stillNamed(f *os.File) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(f.Name())
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// Write stores and hashes p, refusing to grow beyond the limit.
func (w *writer) Write(p []byte) (int, error) {
	if w.limit > 0 && w.n+int64(len(p)) > w.limit {
		return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, w.limit)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// reset truncates the temporary file for a retry.
func (w *writer) reset() error {
	w.h.Reset()
	w.n = 0
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return w.f.Truncate(0)
}

// commit verifies the digest, fsyncs and renames the file to its checksum.
func (w *writer) commit() error {
	got := hex.EncodeToString(w.h.Sum(nil))
	if got != w.sum.Hex {
		return fmt.Errorf("%w: got %s:%s", ErrDigestMismatch, w.sum.Algo, got)
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), filepath.Join(w.dir, w.sum.String())); err != nil {
		return err
	}
	return durable.SyncDir(w.dir)
}

// close releases the file, removing it unless it was committed.
func (w *writer) close() {
	if _, err := os.Lstat(w.f.Name()); err == nil {
		os.Remove(w.f.Name())
	}
	w.f.Close()
}

// cleanupPartials removes temporary files that no live writer holds: what
// a killed run left behind.
func cleanupPartials(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), partialPrefix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.Remove(path)
		}
		f.Close()
	}
	return nil
}

// present reports whether the item is already stored.
func present(dir string, sum Checksum) bool {
	st, err := os.Lstat(filepath.Join(dir, sum.String()))
	return err == nil && st.Mode().IsRegular()
}
