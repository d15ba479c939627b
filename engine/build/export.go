package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
	"golang.org/x/sys/unix"
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

// exportOptions is how an export unpacks a tree: as root, everything the
// tree holds; as a plain user, what a plain user can hold. Either way what
// the output cannot hold is counted and reported, never a reason to refuse
// the export: a plain user's export has its files, without their owners,
// without device nodes (a plain user cannot create them) and without
// setuid and setgid bits (a program setuid to root in the image would be
// setuid to the user here), and without the xattrs the kernel refuses
// (trusted., security.).
func exportOptions() treetar.Options {
	return treetar.Options{Owners: os.Geteuid() == 0, Lossy: true}
}

// export unpacks the pipeline's tree next to its destination and renames
// it into place, so an interrupted export leaves nothing half-written
// under the export's name. What the tree holds that the output cannot is
// reported in one line.
func (b *builder) export(ctx context.Context, name string) error {
	p := b.m.Pipeline(name)
	dest := filepath.Join(b.cfg.OutputDir, name)
	if err := os.MkdirAll(b.cfg.OutputDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(b.cfg.OutputDir, "."+filepath.Base(name)+".partial-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := b.unpackTree(ctx, p.ID, tmp)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dest); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	if left := st.Dropped.String(); left != "" {
		b.cfg.Monitor.Notice(droppedNotice(name, left, exportOptions().Owners))
	}
	b.cfg.Monitor.Exported(name, dest)
	return nil
}

// droppedNotice is the one line that says what an export left out.
func droppedNotice(name, left string, root bool) string {
	if root {
		return fmt.Sprintf("export %s: left out %s: the output's file system cannot hold them", name, left)
	}
	return fmt.Sprintf("export %s: as a plain user, left out %s; run as root to keep them", name, left)
}

// unpackTree unpacks object id into dir: from its committed archive, or
// streamed from the executor's floating working tree.
func (b *builder) unpackTree(ctx context.Context, id, dir string) (treetar.Stats, error) {
	if path, ok := b.stored(id); ok {
		// O_NOFOLLOW: a symlink put in the archive's place is not read
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return treetar.Stats{}, err
		}
		defer f.Close()
		return treetar.Unpack(ctx, f, dir, exportOptions())
	}
	if !b.floating[id] {
		return treetar.Stats{}, fmt.Errorf("tree %s was not built", short(id))
	}
	return b.unpackFloating(ctx, id, dir)
}

// errUnpackStopped ends a save whose archive the unpack no longer reads.
var errUnpackStopped = errors.New("unpack stopped")

// unpackFloating streams working tree id from the executor into dir
// through a pipe: no archive file is written on the host.
func (b *builder) unpackFloating(ctx context.Context, id, dir string) (treetar.Stats, error) {
	pr, pw := io.Pipe()
	saved := make(chan error, 1)
	go func() {
		err := b.exec.SaveTree(ctx, id, pw)
		pw.CloseWithError(err)
		saved <- err
	}()
	st, err := treetar.Unpack(ctx, pr, dir, exportOptions())
	if err == nil {
		// what follows the end of the archive; the executor bounds it
		_, err = io.Copy(io.Discard, pr)
	}
	pr.CloseWithError(errUnpackStopped)
	if serr := <-saved; err == nil && serr != nil {
		err = serr
	}
	return st, err
}
