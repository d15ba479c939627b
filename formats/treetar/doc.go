// Package treetar is the tree archive format of osbuild-vm: the one
// definition of how a file tree travels as a PAX tar archive, between the
// guest's working trees, the host's object store and the host's exports.
// Guest and host both import it; it holds format code only, and the caller
// says what the side it runs on may do (Options).
//
// Pack is deterministic: the same tree gives the same bytes. Entries come in
// tree order (a directory, then its entries sorted bytewise by name, depth
// first), named "./" for the root and "./rel/path" below it (directories end
// in "/"), with numeric owners only (no user or group names), the mtime with
// nanoseconds, no atime or ctime, extended attributes as SCHILY.xattr PAX
// records, and a second name of a multiply linked inode as a hard link to
// the first. Sockets are left out; tar cannot carry them.
//
// Unpack restores what Pack writes (owners, modes including setuid bits,
// mtimes, xattrs, symlinks, hard links, device nodes, fifos) and refuses any
// entry that would land outside the directory: an absolute or ".." name, a
// parent that is a symlink, or a hard link whose target is outside, and any
// entry Pack never writes (sparse files, types a tree cannot hold). Parents
// are opened with openat2 and RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, and every
// entry is created relative to its parent's descriptor without following a
// final symlink. The archive is untrusted input: it comes from the guest.
package treetar

import "errors"

// Version is the version of the format that Pack writes and Unpack reads.
// The object store records it with every tree and reads no tree of another
// version (it rebuilds it instead). Raise it whenever Pack would write a
// tree differently or Unpack would read an existing archive differently.
const Version = 1

// ErrUnsafePath marks an archive entry whose name or link target would
// reach outside the tree.
var ErrUnsafePath = errors.New("unsafe path in archive")

// ErrUnsupported marks an archive entry of a type a tree cannot hold, or a
// file in a tree that Pack cannot archive.
var ErrUnsupported = errors.New("unsupported entry")

// Stats counts what a tree holds: entries below the root and the bytes of
// regular files' content; for Unpack also what it left out.
type Stats struct {
	Files   int64
	Bytes   int64
	Dropped Dropped
}

// bufSize is the size of the copy buffers: large writes keep bulk transfer
// through virtiofs and tmpfs near the device's rate.
const bufSize = 1 << 20

// xattrPrefix is how PAX carries an extended attribute.
const xattrPrefix = "SCHILY.xattr."

// sparsePrefix starts the PAX records of a GNU sparse file, which Pack
// never writes: a small archive could expand to any size.
const sparsePrefix = "GNU.sparse."
