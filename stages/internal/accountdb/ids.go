package accountdb

import (
	"strconv"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// IDRange is an id allocation range from login.defs.
type IDRange struct{ Min, Max int }

// ResolveUser maps a user name or decimal uid to a uid via the tree's
// /etc/passwd, as chown in a chroot of the tree would.
func ResolveUser(tree api.Root, s string) (int, bool) {
	return resolve(tree, "/etc/passwd", 7, s)
}

// ResolveGroup maps a group name or decimal gid to a gid via /etc/group.
func ResolveGroup(tree api.Root, s string) (int, bool) {
	return resolve(tree, "/etc/group", 4, s)
}

func resolve(tree api.Root, path string, fields int, s string) (int, bool) {
	db, err := Load(tree, path, fields, 0o644)
	if err == nil {
		if e := db.Lookup(s); e != nil {
			n, err := strconv.Atoi(e[2])
			return n, err == nil
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
