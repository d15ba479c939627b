package treetar

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Pack writes the tree at dir to w as a PAX tar archive. w should be
// buffered; Pack writes in large chunks but many small headers too. ctx is
// checked between entries.
func Pack(ctx context.Context, dir string, w io.Writer) (Stats, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	p := &packer{ctx: ctx, dir: dir, tw: tar.NewWriter(w), buf: make([]byte, bufSize), xbufs: newXattrBufs(), links: map[inode]string{}}
	err = p.root(fd)
	if err == nil {
		err = p.tw.Close()
	}
	if err != nil {
		return p.stats, fmt.Errorf("pack %s: %w", dir, err)
	}
	return p.stats, nil
}

type inode struct{ dev, ino uint64 }

type packer struct {
	ctx   context.Context
	dir   string
	tw    *tar.Writer
	buf   []byte
	xbufs *xattrBufs
	links map[inode]string
	stats Stats
}

func (p *packer) root(fd int) error {
	f := os.NewFile(uintptr(fd), p.dir)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	hdr, err := p.header(".", &st, fd, -1, "")
	if err != nil {
		return err
	}
	if err := p.tw.WriteHeader(hdr); err != nil {
		return err
	}
	return p.walk(f, ".")
}

// walk archives the entries of directory d (at rel) in sorted order,
// recursing into subdirectories.
func (p *packer) walk(d *os.File, rel string) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", rel, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if err := p.entry(int(d.Fd()), path.Join(rel, name), name); err != nil {
			return err
		}
	}
	return nil
}

func (p *packer) entry(dirfd int, rel, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return p.directory(dirfd, rel, name, &st)
	case unix.S_IFREG:
		return p.regular(dirfd, rel, name, &st)
	case unix.S_IFSOCK:
		return nil
	}
	hdr, err := p.header(rel, &st, -1, dirfd, name)
	if err != nil {
		return err
	}
	return p.write(hdr, nil)
}

func (p *packer) directory(dirfd int, rel, name string, st *unix.Stat_t) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	hdr, err := p.header(rel, st, fd, -1, "")
	if err != nil {
		return err
	}
	if err := p.write(hdr, nil); err != nil {
		return err
	}
	return p.walk(f, rel)
}

func (p *packer) regular(dirfd int, rel, name string, st *unix.Stat_t) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	hdr, err := p.header(rel, st, fd, -1, "")
	if err != nil {
		return err
	}
	return p.write(hdr, f)
}

// write emits hdr and, for a regular file, exactly hdr.Size bytes of f.
func (p *packer) write(hdr *tar.Header, f *os.File) error {
	p.stats.Files++
	if err := p.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write header %s: %w", hdr.Name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	n, err := io.CopyBuffer(p.tw, struct{ io.Reader }{io.LimitReader(f, hdr.Size)}, p.buf)
	p.stats.Bytes += n
	if err == nil && n != hdr.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", hdr.Name, err)
	}
	return nil
}

// header describes the entry at rel. Its xattrs are read from fd when that
// is an open descriptor of the entry, or else through its parent dirfd and
// name.
func (p *packer) header(rel string, st *unix.Stat_t, fd, dirfd int, name string) (*tar.Header, error) {
	hdr := &tar.Header{
		Name:    archiveName(rel, st.Mode&unix.S_IFMT == unix.S_IFDIR),
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		Format:  tar.FormatPAX,
	}
	if err := p.typed(hdr, st, dirfd, name); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if hdr.Typeflag == tar.TypeLink {
		return hdr, nil
	}
	xattrs, err := readXattrs(p.xbufs, fd, dirfd, name)
	if err != nil {
		return nil, fmt.Errorf("read xattrs of %s: %w", rel, err)
	}
	if len(xattrs) > 0 {
		hdr.PAXRecords = xattrs
	}
	return hdr, nil
}

// typed fills in the type-specific fields, turning a second name of an
// inode already archived into a hard link.
func (p *packer) typed(hdr *tar.Header, st *unix.Stat_t, dirfd int, name string) error {
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFDIR && st.Nlink > 1 {
		key := inode{uint64(st.Dev), st.Ino}
		if first, ok := p.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeLink, first, 0
			return nil
		}
		p.links[key] = hdr.Name
	}
	switch kind {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, name)
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		return err
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = map[bool]byte{true: tar.TypeChar, false: tar.TypeBlock}[kind == unix.S_IFCHR]
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return fmt.Errorf("file type %#o: %w", kind, ErrUnsupported)
	}
	return nil
}

// archiveName is rel as it appears in the archive: "./" for the root,
// "./a/b" below it, directories ending in "/".
func archiveName(rel string, dir bool) string {
	name := "./"
	if rel != "." {
		name += rel
		if dir {
			name += "/"
		}
	}
	return name
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", fmt.Errorf("readlink: %w", err)
	}
	return string(buf[:n]), nil
}
