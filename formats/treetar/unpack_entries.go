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

// dirAttrs sets a directory's owner and xattrs now, and its mode and mtime
// at the end (finishDirs), once its entries are in place.
func (u *unpacker) dirAttrs(fd int, rel string, hdr *tar.Header) error {
	if err := u.chown(fd, -1, "", hdr); err != nil {
		return err
	}
	if err := u.xattrs(xattrAccess{fd: fd}, hdr); err != nil {
		return err
	}
	u.dirs = append(u.dirs, dirAttr{rel: rel, mode: u.mode(hdr), mtime: hdr.ModTime})
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
	if err := u.chown(fd, -1, "", hdr); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, u.mode(hdr)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return u.xattrs(xattrAccess{fd: fd}, hdr)
}

// nameAttrs is fdAttrs for entries without a descriptor of their own.
func (u *unpacker) nameAttrs(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if err := u.chown(-1, pfd, base, hdr); err != nil {
		return err
	}
	if chmod {
		if err := unix.Fchmodat(pfd, base, u.mode(hdr), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := u.xattrs(entryXattrs(-1, pfd, base), hdr); err != nil {
		return err
	}
	return setMtime(pfd, base, hdr.ModTime)
}

// chown restores the entry's owner when Options.Owners says so: through
// fd when it is open, else by name in pfd without following a symlink.
func (u *unpacker) chown(fd, pfd int, base string, hdr *tar.Header) error {
	if !u.opts.Owners {
		return nil
	}
	var err error
	if fd >= 0 {
		err = unix.Fchown(fd, hdr.Uid, hdr.Gid)
	} else {
		err = unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// mode is the entry's permission bits as restored: an entry whose owner
// (group) is not restored keeps no setuid (setgid) bit, as libarchive's
// set_mode decides (see Options.Owners).
func (u *unpacker) mode(hdr *tar.Header) uint32 {
	mode := uint32(hdr.Mode & 0o7777)
	if u.opts.Owners {
		return mode
	}
	clear := uint32(0)
	if hdr.Uid != u.uid {
		clear |= unix.S_ISUID
	}
	if hdr.Gid != u.gid {
		clear |= unix.S_ISGID
	}
	if mode&clear != 0 {
		u.stats.Dropped.SetID++
		mode &^= clear
	}
	return mode
}

// xattrs sets the entry's extended attributes; with Options.Lossy, those
// the destination refuses are counted instead.
func (u *unpacker) xattrs(x xattrAccess, hdr *tar.Header) error {
	refused, err := writeXattrs(x, hdr.PAXRecords, u.opts.Lossy)
	u.stats.Dropped.Xattrs += refused
	return err
}

func (u *unpacker) symlink(pfd int, base string, hdr *tar.Header) error {
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return u.nameAttrs(pfd, base, hdr, false)
}

func (u *unpacker) node(pfd int, rel, base string, hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeFifo && !u.opts.Owners {
		u.stats.Dropped.Devices++
		u.devices[rel] = true
		return nil
	}
	kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(pfd, base, kind|0o600, int(dev)); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return u.nameAttrs(pfd, base, hdr, true)
}

// hardlink links base to an entry extracted earlier; the target is
// resolved like any entry's name, beneath the root without symlinks. A
// link to a device node that was left out is left out as well.
func (u *unpacker) hardlink(pfd int, rel, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil || target == "." {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, ErrUnsafePath)
	}
	if u.devices[target] {
		u.stats.Dropped.Devices++
		u.devices[rel] = true
		return nil
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

// finishDirs sets directories' modes and mtimes, deepest last-listed
// first, so that a directory is still writable while its entries' are set.
func (u *unpacker) finishDirs() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if err := u.finishDir(d); err != nil {
			return fmt.Errorf("%s: %w", d.rel, err)
		}
	}
	return nil
}

func (u *unpacker) finishDir(d dirAttr) error {
	pfd, err := u.openParent(path.Dir(d.rel))
	if err != nil {
		return err
	}
	base := path.Base(d.rel)
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	err = unix.Fchmod(fd, d.mode)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return setMtime(pfd, base, d.mtime)
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
