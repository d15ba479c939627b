package accountdb

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// IDRange is an id allocation range from login.defs.
type IDRange struct{ Min, Max int }

// LoginDefs returns the tree's UID_MIN/UID_MAX and GID_MIN/GID_MAX, with
// the shadow tools' defaults (1000-60000) where unset.
func LoginDefs(tree api.Root) (uid, gid IDRange) {
	uid, gid = IDRange{1000, 60000}, IDRange{1000, 60000}
	data, err := tree.ReadFile("/etc/login.defs")
	if err != nil {
		return uid, gid
	}
	targets := map[string]*int{"UID_MIN": &uid.Min, "UID_MAX": &uid.Max, "GID_MIN": &gid.Min, "GID_MAX": &gid.Max}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if p, ok := targets[f[0]]; ok {
			if n, err := strconv.Atoi(f[1]); err == nil {
				*p = n
			}
		}
	}
	return uid, gid
}

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
