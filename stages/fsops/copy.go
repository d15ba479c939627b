package fsops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

type copyItem struct {
	From              string `json:"from"`
	To                string `json:"to"`
	RemoveDestination bool   `json:"remove_destination"`
}

// Copy copies files and trees between inputs, mounts and the tree with
// `cp -a` semantics: modes, owners, times and symlinks are kept, hardlinks
// within one copy stay hardlinks, a source ending in "/" means its
// contents, and a destination that is a directory receives the source.
func Copy(ctx context.Context, args *api.Arguments) error {
	var opts struct {
		Paths []copyItem `json:"paths"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	for _, it := range opts.Paths {
		fmt.Printf("copying '%s' -> '%s'\n", it.From, it.To)
		if err := copyItem1(ctx, args, it); err != nil {
			return fmt.Errorf("copy %s to %s: %w", it.From, it.To, err)
		}
	}
	return nil
}

// copier copies into one destination root.
type copier struct {
	ctx    context.Context
	dst    api.Root
	remove bool
	owners bool
	links  map[[2]uint64]string
}

func copyItem1(ctx context.Context, args *api.Arguments, it copyItem) error {
	src, err := args.Location(it.From)
	if err != nil {
		return err
	}
	dst, err := args.Location(it.To)
	if err != nil {
		return err
	}
	c := &copier{ctx: ctx, dst: dst.Root, remove: it.RemoveDestination, owners: os.Geteuid() == 0, links: map[[2]uint64]string{}}
	if src.Contents {
		return c.contents(src, dst.Path)
	}
	srcHost, err := src.ResolveParent()
	if err != nil {
		return err
	}
	target := dst.Path
	if host, err := dst.Resolve(); err == nil && isDir(host) {
		target = path.Join(dst.Path, path.Base(src.Path))
	}
	return c.entry(srcHost, target)
}

// contents copies the children of a source directory into dst (made if
// missing), like `cp -a src/. dst`.
func (c *copier) contents(src api.Location, dst string) error {
	srcHost, err := src.Resolve()
	if err != nil {
		return err
	}
	fi, err := os.Stat(srcHost)
	if err != nil {
		return err
	}
	return c.dir(srcHost, dst, fi)
}

func isDir(host string) bool {
	fi, err := os.Stat(host)
	return err == nil && fi.IsDir()
}

// entry copies the source entry at host srcHost to the in-root path dst.
func (c *copier) entry(srcHost, dst string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(srcHost)
	if err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		return c.dir(srcHost, dst, fi)
	case fi.Mode().IsRegular():
		return c.file(srcHost, dst, fi)
	case fi.Mode()&fs.ModeSymlink != 0:
		return c.symlink(srcHost, dst, fi)
	}
	return c.special(dst, fi)
}

func (c *copier) dir(srcHost, dst string, fi fs.FileInfo) error {
	host, err := c.dst.Resolve(dst)
	if err != nil {
		return err
	}
	if err := os.Mkdir(host, 0o700); err != nil && !(errors.Is(err, fs.ErrExist) && isDir(host)) {
		return err
	}
	children, err := os.ReadDir(srcHost)
	if err != nil {
		return err
	}
	for _, ch := range children {
		if err := c.entry(filepath.Join(srcHost, ch.Name()), path.Join(dst, ch.Name())); err != nil {
			return err
		}
	}
	return c.meta(host, fi)
}

// file copies a regular file. Without remove_destination an existing
// destination is written through (a symlink followed inside the root), as
// cp does; with it, the destination entry is replaced.
func (c *copier) file(srcHost, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	key := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	if first, ok := c.links[key]; ok && st.Nlink > 1 {
		host, err := c.replaceable(dst)
		if err != nil {
			return err
		}
		return os.Link(first, host)
	}
	host, err := c.fileTarget(dst)
	if err != nil {
		return err
	}
	if err := copyContent(srcHost, host); err != nil {
		return err
	}
	c.links[key] = host
	return c.meta(host, fi)
}

func (c *copier) fileTarget(dst string) (string, error) {
	if c.remove {
		return c.replaceable(dst)
	}
	return c.dst.Resolve(dst)
}

// replaceable resolves dst's parent and removes a non-directory at dst.
func (c *copier) replaceable(dst string) (string, error) {
	host, err := c.dst.ResolveParent(dst)
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

func copyContent(srcHost, dstHost string) error {
	in, err := os.Open(srcHost)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dstHost, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (c *copier) symlink(srcHost, dst string, fi fs.FileInfo) error {
	target, err := os.Readlink(srcHost)
	if err != nil {
		return err
	}
	host, err := c.replaceable(dst)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, host); err != nil {
		return err
	}
	return c.lmeta(host, fi)
}

func (c *copier) special(dst string, fi fs.FileInfo) error {
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil // cp -a copies sockets, but a socket file is useless in an image
	}
	host, err := c.replaceable(dst)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := unix.Mknod(host, st.Mode, int(st.Rdev)); err != nil {
		return err
	}
	return c.meta(host, fi)
}

// meta copies owner (as root), mode and times onto a non-symlink.
func (c *copier) meta(host string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if c.owners {
		if err := os.Lchown(host, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	if err := syscall.Chmod(host, st.Mode&0o7777); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, host, times(st), unix.AT_SYMLINK_NOFOLLOW)
}

func (c *copier) lmeta(host string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if c.owners {
		if err := os.Lchown(host, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, host, times(st), unix.AT_SYMLINK_NOFOLLOW)
}

func times(st *syscall.Stat_t) []unix.Timespec {
	return []unix.Timespec{
		unix.NsecToTimespec(syscall.TimespecToNsec(st.Atim)),
		unix.NsecToTimespec(syscall.TimespecToNsec(st.Mtim)),
	}
}
