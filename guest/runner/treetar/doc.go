// Package treetar moves a working tree in and out of a PAX tar archive, the
// form in which trees travel between the host's object store and the guest.
//
// Pack is deterministic: the same tree gives the same bytes. Entries come in
// tree order (a directory, then its entries sorted bytewise by name, depth
// first), named "./" for the root and "./rel/path" below it (directories end
// in "/"), with numeric owners only (no user or group names), the mtime with
// nanoseconds, no atime or ctime, extended attributes as SCHILY.xattr PAX
// records, and a second name of a multiply linked inode as a hard link to
// the first. Sockets are left out; tar cannot carry them.
//
// Unpack restores what Pack writes (owners when running as root, modes
// including setuid bits, mtimes, xattrs, symlinks, hard links, device nodes,
// fifos) and refuses any entry that would land outside the directory: an
// absolute or ".." name, a parent that is a symlink, or a hard link whose
// target is outside. Parents are opened with openat2 and
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, and every entry is created relative
// to its parent's descriptor without following a final symlink.
package treetar

import "errors"

// ErrUnsafePath marks an archive entry whose name or link target would
// reach outside the tree.
var ErrUnsafePath = errors.New("unsafe path in archive")

// ErrUnsupported marks an archive entry of a type a tree cannot hold, or a
// file in a tree that Pack cannot archive.
var ErrUnsupported = errors.New("unsupported entry")

// Stats counts what a tree holds: entries below the root and the bytes of
// regular files' content.
type Stats struct {
	Files int64
	Bytes int64
}

// bufSize is the size of the copy buffers: large writes keep bulk transfer
// through virtiofs and tmpfs near the device's rate.
const bufSize = 1 << 20

// xattrPrefix is how PAX carries an extended attribute.
const xattrPrefix = "SCHILY.xattr."
