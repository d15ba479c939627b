package treetar

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Unpack extracts the tar archive r into the existing directory dir, as
// opts allow. An entry "./" or "." sets dir's own attributes. ctx is
// checked between entries. On error, dir holds what was extracted so far;
// the caller removes it.
func Unpack(ctx context.Context, r io.Reader, dir string, opts Options) (Stats, error) {
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("unpack into %s: %w", dir, err)
	}
	defer unix.Close(root)
	u := &unpacker{root: root, parent: -1, buf: make([]byte, bufSize), opts: opts,
		uid: os.Geteuid(), gid: os.Getegid(), devices: map[string]bool{}}
	defer u.closeParent()
	tr := tar.NewReader(bufio.NewReaderSize(r, bufSize))
	for {
		if err := ctx.Err(); err != nil {
			return u.stats, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.stats, fmt.Errorf("unpack into %s: read archive: %w", dir, err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return u.stats, fmt.Errorf("unpack into %s: %s: %w", dir, hdr.Name, err)
		}
	}
	if err := u.finishDirs(); err != nil {
		return u.stats, fmt.Errorf("unpack into %s: %w", dir, err)
	}
	return u.stats, nil
}

// dirAttr is what is set on a directory once its entries are in place:
// its mode (a read-only directory would refuse them) and its mtime (they
// change it).
type dirAttr struct {
	rel   string
	mode  uint32
	mtime time.Time
}

type unpacker struct {
	root     int
	parent   int    // descriptor of the last parent directory opened
	parentP  string // its path relative to root
	buf      []byte
	opts     Options
	uid, gid int             // the caller's, for counting owners not kept
	devices  map[string]bool // device nodes left out, for hard links to them
	dirs     []dirAttr
	stats    Stats
}

// cleanName turns an archive name into a path relative to the tree root,
// "." for the root itself. It rejects absolute names and any ".."
// component, before or after cleaning.
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("name %q: %w", name, ErrUnsafePath)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("name %q: %w", name, ErrUnsafePath)
		}
	}
	return path.Clean(name), nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if err := u.check(hdr); err != nil {
		return err
	}
	if rel == "." {
		return u.rootEntry(hdr)
	}
	pfd, err := u.openParent(path.Dir(rel))
	if err != nil {
		return err
	}
	base := path.Base(rel)
	if hdr.Typeflag == tar.TypeDir {
		return u.directory(pfd, rel, base, hdr)
	}
	if err := u.clear(pfd, base); err != nil {
		return err
	}
	u.stats.Files++
	switch hdr.Typeflag {
	case tar.TypeReg:
		return u.regular(pfd, base, hdr, r)
	case tar.TypeSymlink:
		return u.symlink(pfd, base, hdr)
	case tar.TypeLink:
		return u.hardlink(pfd, rel, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return u.node(pfd, rel, base, hdr)
	}
	return fmt.Errorf("type %q: %w", hdr.Typeflag, ErrUnsupported)
}

// check refuses what Pack never writes and counts an owner that is not
// restored.
func (u *unpacker) check(hdr *tar.Header) error {
	for key := range hdr.PAXRecords {
		if strings.HasPrefix(key, sparsePrefix) {
			return fmt.Errorf("sparse file: %w", ErrUnsupported)
		}
	}
	if !u.opts.Owners && hdr.Typeflag != tar.TypeLink && (hdr.Uid != u.uid || hdr.Gid != u.gid) {
		u.stats.Dropped.Owners++
	}
	return nil
}

// openParent opens directory rel below the root, refusing symlinks on the
// way. The last one stays open: archives list a directory's entries
// together.
func (u *unpacker) openParent(rel string) (int, error) {
	if rel == "." {
		return u.root, nil
	}
	if u.parent >= 0 && u.parentP == rel {
		return u.parent, nil
	}
	fd, err := openBeneath(u.root, rel)
	if err != nil {
		return -1, err
	}
	u.closeParent()
	u.parent, u.parentP = fd, rel
	return fd, nil
}

func (u *unpacker) closeParent() {
	if u.parent >= 0 {
		unix.Close(u.parent)
		u.parent = -1
	}
}

// openBeneath opens directory rel of root with no symlink anywhere on the
// way and no way out.
func openBeneath(root int, rel string) (int, error) {
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return -1, fmt.Errorf("parent %s: %w", rel, ErrUnsafePath)
	case err != nil:
		return -1, fmt.Errorf("open parent %s: %w", rel, err)
	}
	return fd, nil
}

// clear removes whatever non-directory is at base, so that a later entry
// replaces an earlier one as tar does; it never removes a directory.
func (u *unpacker) clear(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("replace existing entry: %w", err)
}
