package accounts

import (
	"fmt"
	"strconv"
)

// useradd adds a new user: uid from the option or allocated, a user
// private group of the same name unless a gid is given, supplementary
// groups, and a locked password unless a hash is given.
func (d *dbs) useradd(name string, o userOptions) error {
	uid, err := d.newUID(o.UID)
	if err != nil {
		return err
	}
	gid, err := d.primaryGroup(name, uid, o.GID)
	if err != nil {
		return err
	}
	home := d.defs.HomeBase + "/" + name
	if o.Home != nil && *o.Home != "" {
		home = *o.Home
	}
	shell := d.defs.Shell
	if o.Shell != "" {
		shell = o.Shell
	}
	entry := []string{name, "x", strconv.Itoa(uid), strconv.Itoa(gid), deref(o.Description), home, shell}
	if err := d.passwd.Append(entry); err != nil {
		return err
	}
	if err := d.shadow.Append(d.shadowEntry(name, o)); err != nil {
		return err
	}
	if len(o.Groups) > 0 {
		return d.setMembership(name, o.Groups)
	}
	return nil
}

func (d *dbs) newUID(want *int) (int, error) {
	if want != nil {
		if *want < 0 {
			return 0, fmt.Errorf("uid %d: %w", *want, ErrInvalidValue)
		}
		return *want, nil // upstream passes -o: duplicates are allowed
	}
	return d.passwd.NextFreeID(d.defs.UID.Min, d.defs.UID.Max)
}

// primaryGroup returns the given gid (which must exist) or makes the
// user's private group, with gid = uid when that is free.
func (d *dbs) primaryGroup(name string, uid int, want *int) (int, error) {
	if want != nil {
		if d.group.LookupID(*want) == nil {
			return 0, fmt.Errorf("gid %d: %w", *want, ErrNotFound)
		}
		return *want, nil
	}
	if d.group.Lookup(name) != nil {
		return 0, fmt.Errorf("group %q: %w: exists; give a gid to use it", name, ErrConflict)
	}
	gid := uid
	if d.group.LookupID(uid) != nil {
		var err error
		if gid, err = d.group.NextFreeID(d.defs.GID.Min, d.defs.GID.Max); err != nil {
			return 0, err
		}
	}
	return gid, d.addGroup(name, gid)
}

func (d *dbs) shadowEntry(name string, o userOptions) []string {
	pw := "!"
	if o.Password != nil {
		pw = *o.Password
	}
	expire := ""
	if o.ExpireDate != nil {
		expire = strconv.Itoa(*o.ExpireDate)
	}
	lastchg := d.today()
	if o.ForcePasswordReset {
		lastchg = "0"
	}
	return []string{name, pw, lastchg, d.defs.PassMin, d.defs.PassMax, d.defs.PassWarn, "", expire, ""}
}

// usermod changes the given fields of an existing user.
func (d *dbs) usermod(e []string, o userOptions) error {
	if o.GID != nil {
		if d.group.LookupID(*o.GID) == nil {
			return fmt.Errorf("gid %d: %w", *o.GID, ErrNotFound)
		}
		e[3] = strconv.Itoa(*o.GID)
	}
	if o.Description != nil {
		e[4] = *o.Description
	}
	if o.Home != nil && *o.Home != "" {
		e[5] = *o.Home
	}
	if o.Shell != "" {
		e[6] = o.Shell
	}
	d.updateShadow(e[0], o)
	if len(o.Groups) > 0 {
		return d.setMembership(e[0], o.Groups)
	}
	return nil
}

func (d *dbs) updateShadow(name string, o userOptions) {
	s := d.shadow.Lookup(name)
	if s == nil {
		if !d.shadow.Existed() {
			return
		}
		s = d.shadowEntry(name, userOptions{})
		d.shadow.Entries = append(d.shadow.Entries, s)
	}
	if o.Password != nil {
		s[1] = *o.Password
		s[2] = d.today()
	}
	if o.ExpireDate != nil {
		s[7] = strconv.Itoa(*o.ExpireDate)
	}
	if o.ForcePasswordReset {
		s[2] = "0"
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
