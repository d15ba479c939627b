package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
	"github.com/osbuild-vm/osbuild-vm/guest/runner/directio"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

func (r *Runner) treeDir(name string) string {
	return filepath.Join(r.cfg.WorkDir, "trees", name)
}

// TreeOpen serves tree.open: it makes working tree p.Tree, empty or
// unpacked from the archive p.From.
func (r *Runner) TreeOpen(ctx context.Context, p jsoncomm.TreeOpenParams, _ func(jsoncomm.Log)) (jsoncomm.TreeInfo, error) {
	if err := validTreeName(p.Tree); err != nil {
		return jsoncomm.TreeInfo{}, err
	}
	release, err := r.trees.create(p.Tree)
	if err != nil {
		return jsoncomm.TreeInfo{}, err
	}
	defer release()
	r.refill() // a stage will follow: have its setup process ready
	st, err := r.populate(ctx, r.treeDir(p.Tree), p.From)
	if err != nil {
		os.RemoveAll(r.treeDir(p.Tree))
		r.trees.remove(p.Tree)
		return jsoncomm.TreeInfo{}, fmt.Errorf("open tree %s: %w", p.Tree, err)
	}
	return jsoncomm.TreeInfo{Tree: p.Tree, Files: st.Files, Bytes: st.Bytes}, nil
}

func (r *Runner) populate(ctx context.Context, dir, from string) (treetar.Stats, error) {
	os.RemoveAll(dir) // a leftover of an agent that died; never a tree in use
	if err := os.Mkdir(dir, 0o755); err != nil {
		return treetar.Stats{}, err
	}
	if from == "" {
		return treetar.Stats{}, nil
	}
	f, err := os.Open(from)
	if err != nil {
		return treetar.Stats{}, classifyFS(err)
	}
	// the archive is read once: bypass the page cache (see directio)
	defer f.Close()
	dr, err := directio.NewReader(f)
	if err != nil {
		return treetar.Stats{}, err
	}
	defer dr.Close()
	// The agent is root: a working tree comes back exactly, owners, device
	// nodes and every xattr, or not at all.
	st, err := treetar.Unpack(ctx, dr, dir, treetar.Options{Owners: true})
	if errors.Is(err, treetar.ErrUnsafePath) || errors.Is(err, treetar.ErrUnsupported) {
		err = fmt.Errorf("%w: %w", err, jsoncomm.ErrInvalid)
	}
	return st, err
}

// TreeSave serves tree.save: it archives working tree p.Tree to p.To,
// through a temporary file in the same directory that is synced and then
// renamed into place. The reply has no digest: hashing in the guest ran at
// 13-35 MB/s under TCG and dominated the save; the host hashes the archive
// natively as it copies it out (and must not trust the guest's anyway).
func (r *Runner) TreeSave(ctx context.Context, p jsoncomm.TreeSaveParams, _ func(jsoncomm.Log)) (jsoncomm.TreeInfo, error) {
	if err := validTreeName(p.Tree); err != nil {
		return jsoncomm.TreeInfo{}, err
	}
	if !filepath.IsAbs(p.To) || filepath.Clean(p.To) != p.To {
		return jsoncomm.TreeInfo{}, jsoncomm.Errorf(jsoncomm.ErrInvalid, "save tree %s: archive path %q is not absolute and clean", p.Tree, p.To)
	}
	release, err := r.trees.acquire(p.Tree, false)
	if err != nil {
		return jsoncomm.TreeInfo{}, err
	}
	defer release()
	info, err := saveTree(ctx, r.treeDir(p.Tree), p.To)
	if err != nil {
		return jsoncomm.TreeInfo{}, fmt.Errorf("save tree %s: %w", p.Tree, err)
	}
	info.Tree = p.Tree
	return info, nil
}

func saveTree(ctx context.Context, dir, to string) (jsoncomm.TreeInfo, error) {
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".*.tmp")
	if err != nil {
		return jsoncomm.TreeInfo{}, classifyFS(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	dw, err := directio.NewWriter(tmp)
	if err != nil {
		return jsoncomm.TreeInfo{}, err
	}
	defer dw.Close()
	st, err := treetar.Pack(ctx, dir, dw)
	if err == nil {
		err = dw.Flush()
	}
	if err == nil {
		err = commit(tmp, to)
	}
	if err != nil {
		return jsoncomm.TreeInfo{}, err
	}
	return jsoncomm.TreeInfo{Files: st.Files, Bytes: st.Bytes, Archive: to}, nil
}

// commit makes tmp durable under the name to.
func commit(tmp *os.File, to string) error {
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(to))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// TreeClose serves tree.close: it removes working tree p.Tree.
func (r *Runner) TreeClose(ctx context.Context, p jsoncomm.TreeRef, _ func(jsoncomm.Log)) (jsoncomm.Empty, error) {
	if err := validTreeName(p.Tree); err != nil {
		return jsoncomm.Empty{}, err
	}
	release, err := r.trees.acquire(p.Tree, true)
	if err != nil {
		return jsoncomm.Empty{}, err
	}
	defer release()
	if err := os.RemoveAll(r.treeDir(p.Tree)); err != nil {
		return jsoncomm.Empty{}, fmt.Errorf("close tree %s: %w", p.Tree, err)
	}
	r.trees.remove(p.Tree)
	return jsoncomm.Empty{}, nil
}

// classifyFS gives file errors the channel's error classes.
func classifyFS(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", err, jsoncomm.ErrNotFound)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %w", err, jsoncomm.ErrPermission)
	}
	return err
}
