package store

import (
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// writeFileSync writes data to path through a temporary name in the same
// directory, fsyncs it and renames it into place, so readers see either the
// old or the new content, never a torn write.
func writeFileSync(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return durable.SyncDir(filepath.Dir(path))
}

// diskUsage sums the space that the regular files and directories under
// dir take on disk (allocated blocks, as osbuild's FsCache counts them, so
// sparse files count for what they use). Symlinks are not followed.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", dir, err)
	}
	return total, nil
}
