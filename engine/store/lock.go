package store

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// errBusy reports that a non-blocking lock is held by someone else.
var errBusy = errors.New("lock held by another run")

// lockFile opens path (creating it if create is set) and takes a flock on
// it. how is unix.LOCK_SH or unix.LOCK_EX, optionally with LOCK_NB. The lock
// is only returned if path still names the locked file afterwards, so a
// lock on a file that was unlinked or replaced meanwhile is never trusted.
func lockFile(path string, how int, create bool) (*os.File, error) {
	flags := os.O_RDONLY | unix.O_CLOEXEC | unix.O_NOATIME
	if create {
		flags |= os.O_CREATE
	}
	f, err := openNoATime(path, flags)
	if err != nil {
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, err
	}
	if !sameFile(f, path) {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, os.ErrNotExist)
	}
	return f, nil
}

// openNoATime opens with O_NOATIME where allowed (owner or root) so that
// taking a lock never counts as a use; it falls back to a plain open.
func openNoATime(path string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, unix.EPERM) {
		return os.OpenFile(path, flags&^unix.O_NOATIME, 0o644)
	}
	return f, err
}

// flock takes the lock, retrying on EINTR, and maps EWOULDBLOCK to errBusy.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errBusy
		default:
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}
