package fsops

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/accountdb"
)

type chmodItem struct {
	Mode      string `json:"mode"`
	Recursive bool   `json:"recursive"`
}

// Chmod changes mode bits of tree paths (octal or symbolic modes). The
// named path is followed if it is a symlink (inside the tree); a recursive
// walk skips symlinks, as chmod -R does.
func Chmod(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Items map[string]chmodItem `json:"items"`
	}
	order, err := itemOrder(args, &opts)
	if err != nil {
		return err
	}
	umask := currentUmask()
	for _, p := range order {
		it := opts.Items[p]
		mode, err := ParseMode(it.Mode)
		if err != nil {
			return err
		}
		err = walkItem(args, p, it.Recursive, func(host string, fi fs.FileInfo) error {
			if fi.Mode()&fs.ModeSymlink != 0 {
				return nil
			}
			cur := uint32(fi.Sys().(*syscall.Stat_t).Mode)
			return syscall.Chmod(host, mode.Apply(cur, fi.IsDir(), umask))
		})
		if err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}

type chownItem struct {
	User      any  `json:"user"`
	Group     any  `json:"group"`
	Recursive bool `json:"recursive"`
}

// Chown changes owners of tree paths; names are looked up in the tree's
// own /etc/passwd and /etc/group, as chown run in a chroot would.
func Chown(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Items map[string]chownItem `json:"items"`
	}
	order, err := itemOrder(args, &opts)
	if err != nil {
		return err
	}
	tree := api.Root(args.Tree)
	for _, p := range order {
		it := opts.Items[p]
		uid, gid, err := owners(tree, it)
		if err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		err = walkItem(args, p, it.Recursive, func(host string, _ fs.FileInfo) error {
			return os.Lchown(host, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
	}
	return nil
}

// owners resolves the item's user and group; -1 leaves one unchanged.
func owners(tree api.Root, it chownItem) (int, int, error) {
	uid, gid := -1, -1
	if s := idString(it.User); s != "" {
		n, ok := accountdb.ResolveUser(tree, s)
		if !ok {
			return 0, 0, fmt.Errorf("user %q: %w: not in the tree's /etc/passwd", s, ErrInvalidValue)
		}
		uid = n
	}
	if s := idString(it.Group); s != "" {
		n, ok := accountdb.ResolveGroup(tree, s)
		if !ok {
			return 0, 0, fmt.Errorf("group %q: %w: not in the tree's /etc/group", s, ErrInvalidValue)
		}
		gid = n
	}
	return uid, gid, nil
}

func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatInt(int64(x), 10)
	}
	return ""
}

// walkItem calls fn on the tree path p (followed if a symlink) and, when
// recursive, on everything below it without following symlinks.
func walkItem(args *api.Arguments, p string, recursive bool, fn func(string, fs.FileInfo) error) error {
	host, err := api.Root(args.Tree).Resolve(p)
	if err != nil {
		return err
	}
	fi, err := os.Stat(host)
	if err != nil {
		return err
	}
	if err := fn(host, fi); err != nil || !recursive || !fi.IsDir() {
		return err
	}
	return filepath.WalkDir(host, func(sub string, d fs.DirEntry, err error) error {
		if err != nil || sub == host {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(sub, info)
	})
}

// itemOrder decodes the options into opts and returns the keys of their
// "items" object in document order: items apply in the order given, so a
// later, more specific item wins over an earlier recursive one.
func itemOrder(args *api.Arguments, opts any) ([]string, error) {
	if err := args.DecodeOptions(opts); err != nil {
		return nil, err
	}
	var raw struct {
		Items json.RawMessage `json:"items"`
	}
	if err := args.DecodeOptions(&raw); err != nil {
		return nil, err
	}
	return api.ObjectKeys(raw.Items)
}

// currentUmask reads the process umask (there is no read-only call).
func currentUmask() uint32 {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return uint32(m)
}
