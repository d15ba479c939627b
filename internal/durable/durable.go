// Package durable makes file writes survive a crash: data is synced before
// a rename puts it in place, and the directory after, so a reader sees the
// old state or the complete new one. The store, the source fetcher and the
// kernel cache all commit files this way.
package durable

import (
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory so that renames and creations in it persist.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Commit syncs and closes f, renames it to dest and syncs dest's directory.
// f is closed whatever happens.
func Commit(f *os.File, dest string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), dest); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dest))
}
