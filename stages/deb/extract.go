// Package deb implements org.osbuild.deb.extract, our own stage that makes
// a build root from pinned Debian packages with no tools in the guest: it
// unpacks each .deb's data archive into the tree, in the order the
// references are given, as `dpkg --extract` would (no maintainer scripts
// run; that is for a later stage with a shell in the tree).
package deb

import (
	"bufio"
	"context"
	"fmt"
	"os"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/tarx"
)

// Extract unpacks every file of the "debs" input into the tree.
func Extract(ctx context.Context, args *api.Arguments) error {
	var opts struct{}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	debs, err := args.Files("debs")
	if err != nil {
		return err
	}
	tree := api.Root(args.Tree)
	for _, p := range debs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := extractOne(ctx, p, tree); err != nil {
			return err
		}
	}
	return nil
}

func extractOne(ctx context.Context, path string, tree api.Root) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("extract deb: %w", err)
	}
	defer f.Close()
	// Go's xz reader is several times slower on an unbuffered file.
	data, err := debfile.DataTar(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("extract deb %s: %w", path, err)
	}
	defer data.Close()
	if err := tarx.Extract(ctx, data, tree, tarx.Options{Owners: os.Geteuid() == 0}); err != nil {
		return fmt.Errorf("extract deb %s: %w", path, err)
	}
	return nil
}
