package treetar

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// rootEntry applies an archive's "./" entry to the tree root itself.
func (u *unpacker) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("root entry of type %q: %w", hdr.Typeflag, ErrUnsafePath)
	}
	return u.dirAttrs(u.root, ".", hdr)
}

func (u *unpacker) directory(pfd int, rel, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		err = u.replaceWithDir(pfd, base)
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	u.stats.Files++
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer unix.Close(fd)
	return u.dirAttrs(fd, rel, hdr)
}

// replaceWithDir keeps an existing directory (a second entry for it only
// updates attributes) and replaces anything else with a new directory.
func (u *unpacker) replaceWithDir(pfd int, base string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		u.stats.Files--
		return nil
	}
	if err := unix.Unlinkat(pfd, base, 0); err != nil {
		return err
	}
	return unix.Mkdirat(pfd, base, 0o700)
}

// dirAttrs sets a directory's owner, mode and xattrs now, and its mtime at
// the end, after its entries stopped changing it.
func (u *unpacker) dirAttrs(fd int, rel string, hdr *tar.Header) error {
	if err := u.fdAttrs(fd, hdr); err != nil {
		return err
	}
	u.dirs = append(u.dirs, dirTime{rel: rel, mtime: hdr.ModTime})
	return nil
}

func (u *unpacker) regular(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if hdr.Size > 0 {
		// the final size up front lets a tmpfs mounted huge=within_size
		// back the file with huge pages
		if err := unix.Ftruncate(fd, hdr.Size); err != nil {
			return fmt.Errorf("size: %w", err)
		}
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, r, u.buf)
	u.stats.Bytes += n
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := u.fdAttrs(fd, hdr); err != nil {
		return err
	}
	return setMtime(pfd, base, hdr.ModTime)
}

// fdAttrs sets owner, then mode (chown clears setuid bits), then xattrs
// (chown clears security.capability) on an open entry.
func (u *unpacker) fdAttrs(fd int, hdr *tar.Header) error {
	if u.chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return writeXattrs(xattrAccess{fd: fd}, hdr.PAXRecords)
}

// nameAttrs is fdAttrs for entries without a descriptor of their own.
func (u *unpacker) nameAttrs(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if u.chown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if chmod {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := writeXattrs(entryXattrs(-1, pfd, base), hdr.PAXRecords); err != nil {
		return err
	}
	return setMtime(pfd, base, hdr.ModTime)
}

func (u *unpacker) symlink(pfd int, base string, hdr *tar.Header) error {
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return u.nameAttrs(pfd, base, hdr, false)
}

func (u *unpacker) node(pfd int, base string, hdr *tar.Header) error {
	kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(pfd, base, kind|0o600, int(dev)); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return u.nameAttrs(pfd, base, hdr, true)
}

// hardlink links base to an entry extracted earlier; the target is
// resolved like any entry's name, beneath the root without symlinks.
func (u *unpacker) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil || target == "." {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrUnsafePath)
	}
	tdir := u.root
	if d := path.Dir(target); d != "." {
		if tdir, err = openBeneath(u.root, d); err != nil {
			return err
		}
		defer unix.Close(tdir)
	}
	if err := unix.Linkat(tdir, path.Base(target), pfd, base, 0); err != nil {
		return fmt.Errorf("hard link to %s: %w", target, err)
	}
	return nil
}

// finishDirs sets directories' mtimes, deepest last-listed first.
func (u *unpacker) finishDirs() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		pfd, err := u.openParent(path.Dir(d.rel))
		if err != nil {
			return err
		}
		if err := setMtime(pfd, path.Base(d.rel), d.mtime); err != nil {
			return fmt.Errorf("%s: %w", d.rel, err)
		}
	}
	return nil
}

// setMtime sets an entry's atime and mtime to t, never following a final
// symlink.
func setMtime(pfd int, base string, t time.Time) error {
	ts := unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
	if err := unix.UtimesNanoAt(pfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}
