package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/engine/treearchive"
)

// exportAll writes every export into OutputDir/<name>, as osbuild does.
func (b *builder) exportAll(ctx context.Context) error {
	for _, name := range b.cfg.Exports {
		if err := b.export(ctx, name); err != nil {
			return fmt.Errorf("export %s: %w", name, err)
		}
	}
	return nil
}

// export unpacks the pipeline's tree next to its destination and renames
// it into place, so an interrupted export leaves nothing half-written
// under the export's name.
func (b *builder) export(ctx context.Context, name string) error {
	p := b.m.Pipeline(name)
	archive, err := b.archiveOf(ctx, p.ID)
	if err != nil {
		return err
	}
	dest := filepath.Join(b.cfg.OutputDir, name)
	if err := os.MkdirAll(b.cfg.OutputDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(b.cfg.OutputDir, "."+filepath.Base(name)+".partial-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := treearchive.Extract(ctx, archive, tmp, treearchive.Options{Owners: os.Geteuid() == 0}); err != nil {
		return err
	}
	if err := os.RemoveAll(dest); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	b.cfg.Monitor.Exported(name, dest)
	return nil
}

// archiveOf returns a tree archive of object id: the committed one, or one
// saved now from the floating working tree.
func (b *builder) archiveOf(ctx context.Context, id string) (string, error) {
	if path, ok := b.cfg.Store.TreeArchive(id); ok {
		return path, nil
	}
	if !b.floating[id] {
		return "", fmt.Errorf("tree %s was not built", short(id))
	}
	path := filepath.Join(b.cfg.ScratchDir, id+".tar")
	if err := b.exec.SaveTree(ctx, id, path); err != nil {
		return "", err
	}
	return path, nil
}
