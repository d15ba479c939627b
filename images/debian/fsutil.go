package debian

import (
	"errors"
	"os"
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

// isNotEmpty reports a rename onto an existing non-empty directory, which
// means another process committed the same content first.
func isNotEmpty(err error) bool { return errors.Is(err, syscall.ENOTEMPTY) }
