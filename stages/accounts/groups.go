package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

func fsMode(m uint32) fs.FileMode { return fs.FileMode(m) }

type groupOptions struct {
	GID *int `json:"gid"`
}

// Groups creates groups like groupadd: a taken name fails (or, with
// force, is left alone); a taken gid fails (or, with force, another is
// picked). Groups are created in the order they are listed.
func Groups(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Groups json.RawMessage `json:"groups"`
		Force  bool            `json:"force"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	d, err := loadDBs(args)
	if err != nil {
		return err
	}
	var groups map[string]groupOptions
	if err := decodeNested(opts.Groups, &groups); err != nil {
		return err
	}
	names, err := api.ObjectKeys(opts.Groups)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := d.groupadd(n, groups[n].GID, opts.Force); err != nil {
			return err
		}
	}
	return d.save()
}

func (d *dbs) groupadd(name string, gid *int, force bool) error {
	if err := checkFields(name); err != nil {
		return err
	}
	if d.group.Lookup(name) != nil {
		if force {
			return nil
		}
		return fmt.Errorf("group %q: %w: exists", name, ErrConflict)
	}
	if gid != nil && d.group.LookupID(*gid) == nil {
		return d.addGroup(name, *gid)
	}
	if gid != nil && !force {
		return fmt.Errorf("group %q: %w: gid %d is taken", name, ErrConflict, *gid)
	}
	id, err := d.group.NextFreeID(d.defs.GID.Min, d.defs.GID.Max)
	if err != nil {
		return err
	}
	return d.addGroup(name, id)
}

// decodeNested decodes a nested options object (absent: nothing).
func decodeNested(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: options: %w", api.ErrInvalidArguments, err)
	}
	return nil
}
