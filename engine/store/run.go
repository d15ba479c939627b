package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// newRun registers a run under tmpDir: it creates and locks <run>.lock
// (retrying if a concurrent recovery removed it between creation and lock)
// and only then creates the <run>/ directory, so a directory without a
// locked lock file always belongs to a dead run.
func newRun(tmpDir string) (string, *os.File, error) {
	for attempt := 0; attempt < 8; attempt++ {
		name, err := randomName()
		if err != nil {
			return "", nil, err
		}
		lockPath := filepath.Join(tmpDir, name+".lock")
		f, err := createExclusive(lockPath)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("register run: %w", err)
		}
		dir := filepath.Join(tmpDir, name)
		err = os.Mkdir(dir, 0o700)
		if err == nil {
			err = os.Mkdir(filepath.Join(dir, floatingDir), 0o700)
		}
		if err != nil {
			f.Close()
			os.Remove(lockPath)
			return "", nil, fmt.Errorf("register run: %w", err)
		}
		return dir, f, nil
	}
	return "", nil, errors.New("register run: could not create a lock file")
}

// createExclusive creates path (which must not exist) and locks it.
func createExclusive(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	if !sameFile(f, path) {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

// randomName names a run's temporary area. It never reaches any output.
func randomName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("register run: %w", err)
	}
	return "run-" + hex.EncodeToString(b[:]), nil
}

// recoverTmp removes what dead runs left in tmpDir: the area of every run
// whose lock file is no longer locked, and every entry whose run has no
// lock file at all. Live runs hold their lock and are left alone.
func recoverTmp(tmpDir string) error {
	entries, err := os.ReadDir(tmpDir)
	if err != nil {
		return fmt.Errorf("recover %s: %w", tmpDir, err)
	}
	var errs []error
	for _, e := range entries {
		if base, ok := strings.CutSuffix(e.Name(), ".lock"); ok {
			errs = append(errs, recoverRun(tmpDir, base))
		} else if _, err := os.Lstat(filepath.Join(tmpDir, e.Name()+".lock")); errors.Is(err, os.ErrNotExist) {
			errs = append(errs, os.RemoveAll(filepath.Join(tmpDir, e.Name())))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("recover %s: %w", tmpDir, err)
	}
	return nil
}

// recoverRun removes the area of run name if no live process holds its
// lock. The directory goes first and the lock file last, under the lock.
func recoverRun(tmpDir, name string) error {
	lockPath := filepath.Join(tmpDir, name+".lock")
	f, err := lockFile(lockPath, unix.LOCK_EX|unix.LOCK_NB, false)
	if errors.Is(err, errBusy) || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.RemoveAll(filepath.Join(tmpDir, name)); err != nil {
		return err
	}
	return os.Remove(lockPath)
}
