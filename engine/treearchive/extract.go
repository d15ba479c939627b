// Package treearchive unpacks a tree archive (the PAX tar in which the
// object store keeps a tree) onto the host, for exports. The archive was
// written by the guest, which the host does not trust: every entry is
// created through an os.Root, so no name, ".." or symlink in it can reach
// outside the destination.
package treearchive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options says what to restore beyond names, contents and modes.
type Options struct {
	// Owners restores uid and gid and creates device nodes; it needs root.
	// Without it files belong to the caller and device nodes are skipped.
	Owners bool
}

// ErrUnsafe marks an archive entry that tries to leave the destination.
var ErrUnsafe = errors.New("unsafe archive entry")

// Extract unpacks the archive at src into the existing directory dest.
func Extract(ctx context.Context, src, dest string, opts Options) error {
	// O_NOFOLLOW: the archive was written by the guest; a symlink in its
	// place must not make the host read elsewhere.
	f, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("extract %s: %w", src, err)
	}
	defer f.Close()
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("extract %s: %w", src, err)
	}
	defer root.Close()
	x := &extractor{root: root, opts: opts}
	if err := x.run(ctx, tar.NewReader(f)); err != nil {
		return fmt.Errorf("extract %s: %w", src, err)
	}
	return nil
}

type extractor struct {
	root *os.Root
	opts Options
	dirs []dirTime // set last, deepest first, so writing inside does not disturb them
}

type dirTime struct {
	name  string
	mtime time.Time
}

func (x *extractor) run(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := x.entry(h, tr); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := x.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

// clean turns an entry name into a path relative to the root, refusing
// absolute names and "..".
func clean(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", ErrUnsafe
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", ErrUnsafe
		}
	}
	c := path.Clean(name)
	if c == "" {
		c = "."
	}
	return c, nil
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	name, err := clean(h.Name)
	if err != nil {
		return err
	}
	mode := h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	switch h.Typeflag {
	case tar.TypeDir:
		if name != "." {
			if err := x.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		x.dirs = append(x.dirs, dirTime{name, h.ModTime})
	case tar.TypeReg:
		if err := x.file(name, mode, r); err != nil {
			return err
		}
	case tar.TypeSymlink:
		return x.replace(name, func() error { return x.root.Symlink(h.Linkname, name) }, h)
	case tar.TypeLink:
		target, err := clean(h.Linkname)
		if err != nil {
			return err
		}
		return x.replace(name, func() error { return x.root.Link(target, name) }, h)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.special(name, mode, h)
	default:
		return fmt.Errorf("unsupported entry type %q", h.Typeflag)
	}
	return x.attrs(name, mode, h)
}

func (x *extractor) file(name string, mode fs.FileMode, r io.Reader) error {
	x.root.Remove(name)
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replace removes whatever is at name and creates the new entry; links
// get no attributes of their own.
func (x *extractor) replace(name string, create func() error, h *tar.Header) error {
	x.root.Remove(name)
	if err := create(); err != nil {
		return err
	}
	if x.opts.Owners && h.Typeflag == tar.TypeSymlink {
		return x.root.Lchown(name, h.Uid, h.Gid)
	}
	return nil
}

// special creates a device node or fifo with mknodat on its parent
// directory, opened through the root so the parent cannot be a symlink
// out of it.
func (x *extractor) special(name string, mode fs.FileMode, h *tar.Header) error {
	if !x.opts.Owners && h.Typeflag != tar.TypeFifo {
		return nil
	}
	dir, err := x.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
	dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
	x.root.Remove(name)
	if err := unix.Mknodat(int(dir.Fd()), path.Base(name), kind|uint32(mode.Perm()), int(dev)); err != nil {
		return err
	}
	return x.attrs(name, mode, h)
}

// attrs sets owner, mode (after the owner, which clears setuid bits) and
// mtime.
func (x *extractor) attrs(name string, mode fs.FileMode, h *tar.Header) error {
	if x.opts.Owners {
		if err := x.root.Lchown(name, h.Uid, h.Gid); err != nil {
			return err
		}
	}
	if err := x.root.Chmod(name, mode); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeDir {
		return nil
	}
	return x.root.Chtimes(name, h.ModTime, h.ModTime)
}
