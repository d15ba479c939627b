package debian

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// writeFileSync writes data to a new file and syncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// commitFile syncs and closes f, renames it to dest and syncs the
// directory so the rename survives a crash.
func commitFile(f *os.File, dest string) error {
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
	return syncDir(filepath.Dir(dest))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// isNotEmpty reports a rename onto an existing non-empty directory, which
// means another process committed the same content first.
func isNotEmpty(err error) bool { return errors.Is(err, syscall.ENOTEMPTY) }
