package disk

import (
	"context"
	"os"
	"path/filepath"
	"sort"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// Squashfs implements org.osbuild.squashfs: the build root's mksquashfs
// of the "tree" input (or of "source", a location) into filename, with
// upstream's compression and exclusion options. mksquashfs sorts each
// directory and, with SOURCE_DATE_EPOCH (the pipeline's source-epoch),
// dates the file system with it; its parallel compression keeps the
// output the same bytes on every run.
func Squashfs(ctx context.Context, args *api.Arguments) error {
	var o struct {
		Filename     string   `json:"filename"`
		Source       string   `json:"source"`
		ExcludePaths []string `json:"exclude_paths"`
		Compression  *struct {
			Method  string            `json:"method"`
			Options map[string]string `json:"options"`
		} `json:"compression"`
	}
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	var src string
	if o.Source != "" {
		loc, err := args.Location(o.Source)
		if err != nil {
			return err
		}
		if src, err = loc.Resolve(); err != nil {
			return err
		}
	} else {
		tree, err := args.TreeInput("tree")
		if err != nil {
			return err
		}
		src = string(tree)
	}
	dst, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	a := []string{src, dst}
	if c := o.Compression; c != nil {
		a = append(a, "-comp", c.Method)
		keys := make([]string, 0, len(c.Options))
		for k := range c.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a = append(a, "-X"+k, c.Options[k])
		}
	}
	if len(o.ExcludePaths) > 0 {
		a = append(append(a, "-regex", "-e"), o.ExcludePaths...)
	}
	return run(ctx, "mksquashfs", a...)
}
