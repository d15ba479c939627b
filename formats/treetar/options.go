package treetar

import (
	"fmt"
	"strings"
)

// Options say what Unpack restores where it runs. The zero value is a
// plain user's view that fails on anything it cannot restore but owners.
type Options struct {
	// Owners restores every entry's uid and gid and creates character and
	// block device nodes, which takes root (CAP_CHOWN, CAP_MKNOD). Without
	// it entries belong to the caller, device nodes (and hard links to
	// them) are left out, and the setuid (setgid) bit of an entry owned by
	// another user (group) is cleared: a program setuid to root in the
	// archive would otherwise run as whoever unpacked it, which the archive
	// never meant (libarchive's set_mode does the same). Each is counted
	// in Stats.Dropped.
	Owners bool
	// Lossy counts an extended attribute that the destination refuses in
	// Stats.Dropped and goes on: EPERM (trusted. and security. attributes
	// as a plain user, user. attributes on a symlink) or EOPNOTSUPP (a file
	// system without them). Without it such an attribute fails the unpack:
	// a working tree must come back exactly.
	Lossy bool
}

// Dropped counts what Unpack left out because the destination cannot
// represent it (see Options).
type Dropped struct {
	Owners  int64 // entries whose uid or gid differs from the caller's
	Devices int64 // device nodes and hard links to them not created
	SetID   int64 // entries whose setuid or setgid bit was cleared
	Xattrs  int64 // extended attributes not set
}

// String says in one line what was left out, "" when nothing was.
func (d Dropped) String() string {
	var parts []string
	add := func(n int64, what, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, fmt.Sprintf(what, n, one))
		case n > 1:
			parts = append(parts, fmt.Sprintf(what, n, many))
		}
	}
	add(d.Owners, "the owners of %d %s", "entry", "entries")
	add(d.Devices, "%d device %s", "node", "nodes")
	add(d.SetID, "the setuid/setgid bits of %d %s", "entry", "entries")
	add(d.Xattrs, "%d extended %s", "attribute", "attributes")
	return strings.Join(parts, ", ")
}
