// Package fsops implements the stages that make or change single
// filesystem entries in the tree: mkdir, copy, ln, chmod, chown and
// truncate. Paths are resolved with the tree (or input, or mount) as
// root, so a symlink in the tree never leads a write outside it.
package fsops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrInvalidValue marks an option value the stage refuses.
var ErrInvalidValue = errors.New("invalid value")

type mkdirItem struct {
	Path    string   `json:"path"`
	Mode    *float64 `json:"mode"`
	Parents bool     `json:"parents"`
	ExistOK bool     `json:"exist_ok"`
}

// Mkdir creates directories; mode (default 0777, less the umask) applies
// only to directories it creates.
func Mkdir(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Paths []mkdirItem `json:"paths"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	for _, it := range opts.Paths {
		if err := mkdirOne(args, it); err != nil {
			return err
		}
	}
	return nil
}

func mkdirOne(args *api.Arguments, it mkdirItem) error {
	mode := fs.FileMode(0o777)
	if it.Mode != nil {
		if *it.Mode < 0 || *it.Mode > 0o7777 || *it.Mode != float64(int(*it.Mode)) {
			return fmt.Errorf("mkdir %s: mode %v: %w", it.Path, *it.Mode, ErrInvalidValue)
		}
		mode = fs.FileMode(int(*it.Mode))
	}
	p := it.Path
	if !strings.Contains(p, "://") && !strings.HasPrefix(p, "/") {
		fmt.Printf("WARNING: relative path %q used, this is discouraged\n", p)
		p = "/" + p
	}
	loc, err := args.Location(p)
	if err != nil {
		return err
	}
	host, err := loc.Resolve()
	if err != nil {
		return err
	}
	if it.Parents {
		return mkdirParents(host, mode, it.ExistOK)
	}
	err = os.Mkdir(host, mode)
	if errors.Is(err, fs.ErrExist) && it.ExistOK {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", it.Path, err)
	}
	return nil
}

// mkdirParents is Python's os.makedirs: an existing leaf is an error
// unless existOK.
func mkdirParents(host string, mode fs.FileMode, existOK bool) error {
	if fi, err := os.Stat(host); err == nil {
		if fi.IsDir() && existOK {
			return nil
		}
		return fmt.Errorf("mkdir %s: %w", host, fs.ErrExist)
	}
	if err := os.MkdirAll(host, mode); err != nil {
		return fmt.Errorf("mkdir %s: %w", host, err)
	}
	return nil
}

type linkItem struct {
	Target   string `json:"target"`
	LinkName string `json:"link_name"`
	Symbolic bool   `json:"symbolic"`
}

// Ln creates symbolic or hard links. A symlink's target is stored as
// given. A hard link's target is a location URL, or a path in the tree
// (relative ones from the link's directory).
func Ln(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Paths []linkItem `json:"paths"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	for _, it := range opts.Paths {
		if err := lnOne(args, it); err != nil {
			return fmt.Errorf("link %s -> %s: %w", it.LinkName, it.Target, err)
		}
	}
	return nil
}

func lnOne(args *api.Arguments, it linkItem) error {
	loc, err := args.Location(it.LinkName)
	if err != nil {
		return err
	}
	host, err := loc.ResolveParent()
	if err != nil {
		return err
	}
	fmt.Printf("Linking '%s' -> '%s'\n", it.LinkName, it.Target)
	if it.Symbolic {
		return os.Symlink(it.Target, host)
	}
	target, err := hardlinkTarget(args, loc, it.Target)
	if err != nil {
		return err
	}
	return os.Link(target, host)
}

func hardlinkTarget(args *api.Arguments, link api.Location, target string) (string, error) {
	if strings.Contains(target, "://") {
		loc, err := args.Location(target)
		if err != nil {
			return "", err
		}
		return loc.ResolveParent()
	}
	if !strings.HasPrefix(target, "/") {
		target = link.Path[:strings.LastIndex(link.Path, "/")+1] + target
	}
	return link.Root.ResolveParent(target)
}

// Truncate creates, shrinks or extends a file in the tree to a size in
// truncate(1)'s syntax.
func Truncate(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Filename string `json:"filename"`
		Size     string `json:"size"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	host, err := api.Root(args.Tree).Resolve(opts.Filename)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("truncate %s: %w", opts.Filename, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size, err := ParseSize(opts.Size, fi.Size())
	if err != nil {
		return fmt.Errorf("truncate %s: %w", opts.Filename, err)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s: %w", opts.Filename, err)
	}
	return f.Close()
}
