// Package archive implements the stages that make or unpack archives and
// compressed files: the v2 tar stage and v1 tar assembler, untar, and the
// xz, zstd and gzip stages. Everything is pure Go, and what they write is
// reproducible: entries sorted by name, numeric owners, mtimes clamped to
// SOURCE_DATE_EPOCH when set, no names or times in compression headers.
package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnsupported marks an option value this implementation cannot honour.
var ErrUnsupported = errors.New("unsupported")

// writerConfig says how tree entries become tar headers.
type writerConfig struct {
	format    tar.Format
	clamp     *time.Time
	xattrs    bool
	selinux   bool
	acls      bool
	transform func(string) string
}

type inodeKey struct{ dev, ino uint64 }

// treeWriter writes a tree into a tar stream, remembering hardlinked
// inodes so their second name becomes a link entry.
type treeWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	cfg   writerConfig
	links map[inodeKey]string
}

func newTreeWriter(ctx context.Context, w io.Writer, cfg writerConfig) *treeWriter {
	if cfg.transform == nil {
		cfg.transform = func(s string) string { return s }
	}
	return &treeWriter{ctx: ctx, tw: tar.NewWriter(w), cfg: cfg, links: map[inodeKey]string{}}
}

// add writes host (and, for a directory, everything under it in name
// order) with the archive name name.
func (t *treeWriter) add(host, name string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		fmt.Printf("tar: %s: socket ignored\n", name)
		return nil
	}
	if err := t.entry(host, name, fi); err != nil {
		return fmt.Errorf("tar %s: %w", name, err)
	}
	if !fi.IsDir() {
		return nil
	}
	children, err := os.ReadDir(host) // sorted by name
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := t.add(filepath.Join(host, c.Name()), childName(name, c.Name())); err != nil {
			return err
		}
	}
	return nil
}

func childName(parent, child string) string {
	if parent == "" {
		return child
	}
	return strings.TrimSuffix(parent, "/") + "/" + child
}

func (t *treeWriter) entry(host, name string, fi fs.FileInfo) error {
	hdr, err := t.header(host, name, fi)
	if err != nil {
		return err
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(host)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(t.tw, f)
	return err
}

func (t *treeWriter) header(host, name string, fi fs.FileInfo) (*tar.Header, error) {
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		l, err := os.Readlink(host)
		if err != nil {
			return nil, err
		}
		link = t.cfg.transform(l)
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, err
	}
	st := fi.Sys().(*syscall.Stat_t)
	hdr.Name = t.cfg.transform(name)
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	hdr.Uname, hdr.Gname = "", ""
	hdr.ModTime = t.mtime(fi.ModTime())
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Format = t.cfg.format
	t.hardlink(hdr, fi, st)
	if err := t.addXattrs(hdr, host); err != nil {
		return nil, err
	}
	return hdr, nil
}

// hardlink turns the second and later names of a multiply-linked file
// into link entries to the first.
func (t *treeWriter) hardlink(hdr *tar.Header, fi fs.FileInfo, st *syscall.Stat_t) {
	if !fi.Mode().IsRegular() || st.Nlink < 2 {
		return
	}
	key := inodeKey{uint64(st.Dev), uint64(st.Ino)}
	if first, ok := t.links[key]; ok {
		hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		return
	}
	t.links[key] = hdr.Name
}

func (t *treeWriter) mtime(m time.Time) time.Time {
	m = m.Truncate(time.Second)
	if t.cfg.clamp != nil && m.After(*t.cfg.clamp) {
		return *t.cfg.clamp
	}
	return m
}

// addXattrs stores the extended attributes that the options keep as
// SCHILY.xattr PAX records, which need a PAX header for that entry.
func (t *treeWriter) addXattrs(hdr *tar.Header, host string) error {
	if !t.cfg.xattrs && !t.cfg.selinux && !t.cfg.acls {
		return nil
	}
	names, err := listXattrs(host)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !t.keepXattr(n) {
			continue
		}
		v, err := getXattr(host, n)
		if err != nil {
			return err
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+n] = string(v)
		hdr.Format = tar.FormatPAX
	}
	return nil
}

func (t *treeWriter) keepXattr(name string) bool {
	switch {
	case name == "security.selinux":
		return t.cfg.selinux
	case strings.HasPrefix(name, "system.posix_acl_"):
		return t.cfg.acls
	}
	return t.cfg.xattrs
}

func listXattrs(host string) ([]string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(host, buf)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs: %w", err)
	}
	var names []string
	for _, n := range strings.Split(string(buf[:n]), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func getXattr(host, name string) ([]byte, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Lgetxattr(host, name, buf)
	if err != nil {
		return nil, fmt.Errorf("get xattr %s: %w", name, err)
	}
	return buf[:n], nil
}

func (t *treeWriter) close() error { return t.tw.Close() }
