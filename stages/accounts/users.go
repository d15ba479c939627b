package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

type userOptions struct {
	UID                *int     `json:"uid"`
	GID                *int     `json:"gid"`
	Groups             []string `json:"groups"`
	Description        *string  `json:"description"`
	Home               *string  `json:"home"`
	Shell              string   `json:"shell"`
	Password           *string  `json:"password"`
	Key                string   `json:"key"`
	Keys               []string `json:"keys"`
	ExpireDate         *int     `json:"expiredate"`
	ForcePasswordReset bool     `json:"force_password_reset"`
}

// Users adds or modifies users, in the order they are listed, as upstream
// does with useradd and usermod; then it appends their SSH keys.
func Users(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Users json.RawMessage `json:"users"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	var users map[string]userOptions
	if err := decodeNested(opts.Users, &users); err != nil {
		return err
	}
	names, err := api.ObjectKeys(opts.Users)
	if err != nil {
		return err
	}
	d, err := loadDBs(args)
	if err != nil {
		return err
	}
	existed := map[string]bool{}
	for _, name := range names {
		existed[name] = d.passwd.Lookup(name) != nil
		if err := d.applyUser(name, users[name]); err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
	}
	if err := d.save(); err != nil {
		return err
	}
	return d.finishUsers(names, users, existed)
}

func (d *dbs) applyUser(name string, o userOptions) error {
	if err := o.check(name); err != nil {
		return err
	}
	if e := d.passwd.Lookup(name); e != nil {
		if o.UID != nil && e[2] != strconv.Itoa(*o.UID) {
			return fmt.Errorf("%w: cannot change the uid of an existing user", ErrConflict)
		}
		return d.usermod(e, o)
	}
	return d.useradd(name, o)
}

func (o userOptions) check(name string) error {
	values := []string{name, o.Shell}
	for _, p := range []*string{o.Description, o.Home, o.Password} {
		if p != nil {
			values = append(values, *p)
		}
	}
	return checkFields(append(values, o.Groups...)...)
}

// finishUsers creates missing home directories and appends SSH keys,
// after the databases are saved (so names resolve in the tree).
func (d *dbs) finishUsers(names []string, users map[string]userOptions, existed map[string]bool) error {
	for _, name := range names {
		o := users[name]
		e := d.passwd.Lookup(name)
		if err := d.ensureHome(e, o, existed[name]); err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
		keys := append(append([]string{}, o.Keys...), nonEmpty(o.Key)...)
		if len(keys) > 0 {
			if err := d.addKeys(e, keys); err != nil {
				return fmt.Errorf("user %s: %w", name, err)
			}
		}
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
