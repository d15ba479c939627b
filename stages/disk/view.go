package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// subtreeView is what one file system of a partitioned image holds: the
// tree below mountpoint, with the mount points of the file systems nested
// in it (nested, absolute) present but empty, as mounting those would
// hide their contents. Without nested mount points that is the tree's
// directory itself; otherwise an overlay of it (in the stage's own mount
// namespace, on a tmpfs under tmp) with an empty tmpfs on each, owned,
// moded and dated as the tree's directory there, or root 0755 at the
// source epoch when the tree has none.
func subtreeView(tree, mountpoint string, nested []string, tmp string, epoch int64) (string, func(), error) {
	src := filepath.Join(tree, mountpoint)
	var below []string
	for _, n := range nested {
		if rel, ok := strings.CutPrefix(n, strings.TrimSuffix(mountpoint, "/")+"/"); ok && n != mountpoint {
			below = append(below, rel)
		}
	}
	if len(below) == 0 {
		return src, func() {}, nil
	}
	if err := unix.Mount("tmpfs", tmp, "tmpfs", 0, "mode=0700"); err != nil {
		return "", nil, fmt.Errorf("view of %s: %w", mountpoint, err)
	}
	cleanup := func() { unix.Unmount(tmp, unix.MNT_DETACH) }
	merged := filepath.Join(tmp, "merged")
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", src, tmp, tmp)
	if err := unix.Mount("overlay", merged, "overlay", 0, data); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("view of %s: overlay: %w", mountpoint, err)
	}
	for _, rel := range below {
		if err := emptyAt(merged, rel, filepath.Join(src, rel), epoch); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("view of %s: %s: %w", mountpoint, rel, err)
		}
	}
	return merged, func() { unix.Unmount(merged, unix.MNT_DETACH); cleanup() }, nil
}

// emptyAt mounts an empty tmpfs at merged/rel (made if missing) that looks
// like the tree's directory orig.
func emptyAt(merged, rel, orig string, epoch int64) error {
	dir := filepath.Join(merged, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		return err
	}
	uid, gid, mode := 0, 0, uint32(0o755)
	atime := unix.Timespec{Sec: epoch}
	mtime := atime
	var st unix.Stat_t
	if err := unix.Lstat(orig, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		uid, gid, mode = int(st.Uid), int(st.Gid), st.Mode&0o7777
		atime, mtime = st.Atim, st.Mtim
	} else if !errors.Is(err, unix.ENOENT) && err != nil {
		return err
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	if err := unix.Chmod(dir, mode); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dir, []unix.Timespec{atime, mtime}, unix.AT_SYMLINK_NOFOLLOW)
}
