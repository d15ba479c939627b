// Package tarx extracts tar streams into a tree safely: every entry lands
// inside the tree (symlinks in the tree are followed as if chrooted, ".."
// that climbs above the root is refused), with the modes, owners, times,
// symlinks and hardlinks of the archive. The untar and deb.extract stages
// share it.
package tarx

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrUnsafeEntry marks an entry whose name or link leaves the tree.
var ErrUnsafeEntry = errors.New("entry escapes the tree")

// ErrUnsupportedEntry marks an entry type we do not extract.
var ErrUnsupportedEntry = errors.New("unsupported entry type")

// Options tune Extract.
type Options struct {
	// Prefix is the in-tree directory to extract into ("/" when empty).
	Prefix string
	// Owners applies the archive's numeric uid/gid; only root can.
	Owners bool
}

type extractor struct {
	root api.Root
	opts Options
	dirs []dirTimes
}

type dirTimes struct {
	host  string
	mtime time.Time
}

// Extract unpacks the tar stream r into root, stopping between entries
// when ctx is done.
func Extract(ctx context.Context, r io.Reader, root api.Root, opts Options) error {
	x := &extractor{root: root, opts: opts}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
	return x.finishDirs()
}

// inTree maps an archive name to an in-tree path under the prefix,
// refusing names that climb above it.
func (x *extractor) inTree(name string) (string, error) {
	clean := path.Clean("/" + name)
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			// A ".." is only harmless when it stays below the start; be strict.
			return "", fmt.Errorf("%w: %q", ErrUnsafeEntry, name)
		}
	}
	return path.Join("/", x.opts.Prefix, clean), nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	p, err := x.inTree(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(p, hdr)
	case tar.TypeReg, tar.TypeRegA:
		return x.file(p, hdr, r)
	case tar.TypeSymlink:
		return x.symlink(p, hdr)
	case tar.TypeLink:
		return x.hardlink(p, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.node(p, hdr)
	case tar.TypeXGlobalHeader:
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedEntry, hdr.Typeflag)
}

func (x *extractor) dir(p string, hdr *tar.Header) error {
	host, err := x.dirTarget(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return err
	}
	if err := x.meta(host, hdr); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTimes{host, hdr.ModTime})
	return nil
}

// dirTarget follows a final symlink to a directory: /bin -> usr/bin in
// the tree stays a link when a package ships ./bin/ (as dpkg and tar
// --keep-directory-symlink do). Any other non-directory in the way is
// removed itself (never the file a symlink points to).
func (x *extractor) dirTarget(p string) (string, error) {
	host, err := x.root.Resolve(p)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(host); err == nil && fi.IsDir() {
		return host, nil
	}
	host, err = x.root.ResolveParent(p)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(host); err == nil && !fi.IsDir() {
		if err := os.Remove(host); err != nil {
			return "", err
		}
	}
	return host, nil
}

// prepare resolves the parent of p, creates it, and removes a non-directory
// already at p so the new entry replaces it (a symlink is replaced, never
// written through).
func (x *extractor) prepare(p string) (string, error) {
	host, err := x.root.ResolveParent(p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return "", err
	}
	fi, err := os.Lstat(host)
	if err == nil && fi.IsDir() {
		return "", fmt.Errorf("a directory is in the way")
	}
	if err == nil {
		if err := os.Remove(host); err != nil {
			return "", err
		}
	}
	return host, nil
}

func (x *extractor) file(p string, hdr *tar.Header, r io.Reader) error {
	host, err := x.prepare(p)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return x.meta(host, hdr)
}

func (x *extractor) symlink(p string, hdr *tar.Header) error {
	host, err := x.prepare(p)
	if err != nil {
		return err
	}
	if err := os.Symlink(hdr.Linkname, host); err != nil {
		return err
	}
	return x.lmeta(host, hdr)
}

func (x *extractor) hardlink(p string, hdr *tar.Header) error {
	target, err := x.inTree(hdr.Linkname)
	if err != nil {
		return err
	}
	targetHost, err := x.root.ResolveParent(target)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(targetHost); err != nil || fi.IsDir() {
		return fmt.Errorf("hardlink target %s: not an extracted file", hdr.Linkname)
	}
	host, err := x.prepare(p)
	if err != nil {
		return err
	}
	return os.Link(targetHost, host)
}

func (x *extractor) node(p string, hdr *tar.Header) error {
	host, err := x.prepare(p)
	if err != nil {
		return err
	}
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknod(host, mode, int(dev)); err != nil {
		return err
	}
	return x.meta(host, hdr)
}

// meta applies owner, mode and mtime to a non-symlink (chown first: it
// clears setuid bits).
func (x *extractor) meta(host string, hdr *tar.Header) error {
	if x.opts.Owners {
		if err := os.Lchown(host, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if err := os.Chmod(host, fs.FileMode(hdr.Mode&0o777)|modeBits(hdr.Mode)); err != nil {
		return err
	}
	return os.Chtimes(host, hdr.ModTime, hdr.ModTime)
}

func (x *extractor) lmeta(host string, hdr *tar.Header) error {
	if x.opts.Owners {
		if err := os.Lchown(host, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, host, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func modeBits(m int64) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// finishDirs sets directory mtimes last, deepest first, since extracting
// into a directory changes its mtime.
func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := os.Chtimes(d.host, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("set times %s: %w", d.host, err)
		}
	}
	return nil
}
