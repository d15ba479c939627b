package vm

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockName is a file in each VM directory that its osbuild-vm holds an
// exclusive flock on for the VM's life. The kernel drops the lock when the
// process dies, however it dies, so a directory whose lock can be taken
// belongs to nobody.
const lockName = "owner.lock"

// lockDir takes the directory's owner lock; the returned file holds it
// until closed. The lock file is locked under another name and only then
// linked as lockName: a sweep by another run (sweepStale) must never
// find it unlocked in between, or it takes the directory of a VM that is
// starting for a dead one's and removes it.
func lockDir(dir string) (*os.File, error) {
	tmp := filepath.Join(dir, lockName+".new")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	// A link, not a rename: it fails when the directory has an owner.
	err = os.Link(tmp, filepath.Join(dir, lockName))
	os.Remove(tmp)
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sweepStale removes VM directories under parent left by an osbuild-vm
// that was killed (SIGKILL skips every cleanup). Only directories with an
// owner lock nobody holds are removed; anything else is left alone.
func sweepStale(parent string) error {
	dirs, err := filepath.Glob(filepath.Join(parent, "osbuild-vm-*", lockName))
	if err != nil {
		return err
	}
	var errs []error
	for _, lock := range dirs {
		if stale(lock) {
			errs = append(errs, os.RemoveAll(filepath.Dir(lock)))
		}
	}
	return errors.Join(errs...)
}

// stale reports whether nobody holds the lock file's flock.
func stale(lock string) bool {
	f, err := os.OpenFile(lock, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}
