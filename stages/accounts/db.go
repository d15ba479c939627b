// Package accounts implements org.osbuild.users and org.osbuild.groups by
// editing the tree's passwd, shadow, group and gshadow in Go, with the
// semantics of useradd, usermod and groupadd (id allocation from
// login.defs, user private groups, home from /etc/skel), because a tree
// being built may have no shadow tools and no build root to run them.
package accounts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/accountdb"
)

// ErrConflict marks a name or id that is already taken, or a change an
// existing account refuses (its uid).
var ErrConflict = errors.New("account conflict")

// ErrNotFound marks a group that a user should join but does not exist.
var ErrNotFound = errors.New("no such group")

// ErrInvalidValue marks an option that cannot be stored in the databases.
var ErrInvalidValue = errors.New("invalid value")

// dbs are the four databases, loaded together and saved together.
type dbs struct {
	tree    api.Root
	passwd  *accountdb.File
	shadow  *accountdb.File
	group   *accountdb.File
	gshadow *accountdb.File
	defs    accountdb.Defaults
	epoch   *time.Time
}

func loadDBs(args *api.Arguments) (*dbs, error) {
	tree := api.Root(args.Tree)
	d := &dbs{tree: tree, defs: accountdb.LoadDefaults(tree), epoch: args.SourceEpoch}
	specs := []struct {
		dst    **accountdb.File
		path   string
		fields int
		perm   uint32
	}{
		{&d.passwd, "/etc/passwd", 7, 0o644}, {&d.shadow, "/etc/shadow", 9, 0o640},
		{&d.group, "/etc/group", 4, 0o644}, {&d.gshadow, "/etc/gshadow", 4, 0o640},
	}
	for _, s := range specs {
		f, err := accountdb.Load(tree, s.path, s.fields, fsMode(s.perm))
		if err != nil {
			return nil, err
		}
		*s.dst = f
	}
	return d, nil
}

// save writes passwd and group, and shadow and gshadow when the tree has
// them (a tree without shadow passwords stays without).
func (d *dbs) save() error {
	for _, f := range []*accountdb.File{d.passwd, d.group} {
		if err := f.Save(d.tree); err != nil {
			return err
		}
	}
	for _, f := range []*accountdb.File{d.shadow, d.gshadow} {
		if f.Existed() || len(f.Entries) > 0 && f == d.shadow {
			if err := f.Save(d.tree); err != nil {
				return err
			}
		}
	}
	return nil
}

// addGroup appends a group (and its gshadow line when gshadow exists).
func (d *dbs) addGroup(name string, gid int) error {
	if err := d.group.Append([]string{name, "x", strconv.Itoa(gid), ""}); err != nil {
		return err
	}
	if d.gshadow.Existed() {
		return d.gshadow.Append([]string{name, "!", "", ""})
	}
	return nil
}

// setMembership makes user a member of exactly the named groups (usermod
// --groups without --append; useradd --groups on a new user).
func (d *dbs) setMembership(user string, groups []string) error {
	want := map[string]bool{}
	for _, g := range groups {
		if d.group.Lookup(g) == nil {
			return fmt.Errorf("group %q: %w", g, ErrNotFound)
		}
		want[g] = true
	}
	for _, f := range []*accountdb.File{d.group, d.gshadow} {
		for _, e := range f.Entries {
			e[3] = setMember(e[3], user, want[e[0]])
		}
	}
	return nil
}

func setMember(list, user string, member bool) string {
	var out []string
	for _, m := range strings.Split(list, ",") {
		if m != "" && m != user {
			out = append(out, m)
		}
	}
	if member {
		out = append(out, user)
	}
	return strings.Join(out, ",")
}

// today is the shadow "last change" day: SOURCE_DATE_EPOCH's day, or
// empty without one (the field is optional, and the wall clock would make
// the tree differ between runs).
func (d *dbs) today() string {
	if d.epoch == nil {
		return ""
	}
	return strconv.FormatInt(d.epoch.Unix()/86400, 10)
}

func checkFields(values ...string) error {
	for _, v := range values {
		if !accountdb.ValidField(v) {
			return fmt.Errorf("%q: %w: contains ':' or a newline", v, ErrInvalidValue)
		}
	}
	return nil
}
