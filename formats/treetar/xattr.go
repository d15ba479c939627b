package treetar

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxXattrSize is the kernel's own bound on one value (XATTR_SIZE_MAX) and
// on a name list (XATTR_LIST_MAX).
const maxXattrSize = 64 << 10

// xattrAccess reads and writes the extended attributes of one entry,
// through its own descriptor when there is one, else by the name inside its
// parent directory's descriptor (symlinks, device nodes), without following
// a final symlink.
type xattrAccess struct {
	fd    int
	dpath string
}

func entryXattrs(fd, dirfd int, name string) xattrAccess {
	if fd >= 0 {
		return xattrAccess{fd: fd}
	}
	return xattrAccess{fd: -1, dpath: "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name}
}

func (x xattrAccess) list(buf []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Flistxattr(x.fd, buf)
	}
	return unix.Llistxattr(x.dpath, buf)
}

func (x xattrAccess) get(name string, buf []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Fgetxattr(x.fd, name, buf)
	}
	return unix.Lgetxattr(x.dpath, name, buf)
}

func (x xattrAccess) set(name string, value []byte) error {
	if x.fd >= 0 {
		return unix.Fsetxattr(x.fd, name, value, 0)
	}
	return unix.Lsetxattr(x.dpath, name, value, 0)
}

// xattrBufs are the name-list and value buffers readXattrs reuses: most
// entries have no xattrs, and allocating per entry would dominate.
type xattrBufs struct{ list, val []byte }

func newXattrBufs() *xattrBufs {
	return &xattrBufs{list: make([]byte, maxXattrSize), val: make([]byte, maxXattrSize)}
}

// readXattrs returns an entry's extended attributes as PAX records; a
// filesystem without xattr support has none.
func readXattrs(b *xattrBufs, fd, dirfd int, name string) (map[string]string, error) {
	x := entryXattrs(fd, dirfd, name)
	buf, val := b.list, b.val
	n, err := x.list(buf)
	if errors.Is(err, unix.ENOTSUP) || n == 0 && err == nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recs := map[string]string{}
	for _, key := range bytes.Split(bytes.TrimSuffix(buf[:n], []byte{0}), []byte{0}) {
		v, err := x.get(string(key), val)
		if errors.Is(err, unix.ENODATA) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		recs[xattrPrefix+string(key)] = string(val[:v])
	}
	return recs, nil
}

// writeXattrs sets the xattrs among an entry's PAX records, in name
// order. With lossy, one the destination refuses (EPERM, EOPNOTSUPP) is
// skipped and counted; otherwise it is an error.
func writeXattrs(x xattrAccess, recs map[string]string, lossy bool) (int64, error) {
	var refused int64
	for _, key := range slices.Sorted(maps.Keys(recs)) {
		name, ok := strings.CutPrefix(key, xattrPrefix)
		if !ok {
			continue
		}
		value := recs[key]
		if name == "" || len(value) > maxXattrSize {
			return refused, fmt.Errorf("xattr %q: %w", name, ErrUnsupported)
		}
		err := x.set(name, []byte(value))
		if lossy && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP)) {
			refused++
			continue
		}
		if err != nil {
			return refused, fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return refused, nil
}
