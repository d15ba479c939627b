// Package runner is the build engine's executor backed by the build VM: it
// turns the engine's requests (host paths, working trees, stages) into
// jsoncomm calls to the guest agent, translating host paths into the
// guest paths of the shares that hold them.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/internal/ctxio"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// Share is a host directory the guest sees at GuestDir.
type Share struct {
	HostDir, GuestDir string
}

// Runner implements build.Executor over one agent session.
type Runner struct {
	client *jsoncomm.Client
	shares []Share
	outDir string // the one host directory the guest may write; SaveTree copies out of it
	seq    atomic.Int64
	close  func() error
	vm     *vm.VM // set by Boot, for the console on failure
}

// New returns a runner that calls c and translates paths through shares;
// outDir is the shared directory the guest writes tree archives into
// (it must be one of the shares); close stops the VM behind c.
func New(c *jsoncomm.Client, shares []Share, outDir string, close func() error) *Runner {
	return &Runner{client: c, shares: shares, outDir: filepath.Clean(outDir), close: close}
}

var _ build.Executor = (*Runner)(nil)

// ErrNotShared is a host path that no share holds.
var ErrNotShared = errors.New("path is in no share")

// guestPath maps a host path into the guest, through the share with the
// longest matching directory (shares may nest).
func (r *Runner) guestPath(host string) (string, error) {
	host = filepath.Clean(host)
	best, bestLen := "", -1
	for _, s := range r.shares {
		rel, err := filepath.Rel(s.HostDir, host)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || len(s.HostDir) <= bestLen {
			continue
		}
		best, bestLen = filepath.Join(s.GuestDir, rel), len(s.HostDir)
	}
	if bestLen < 0 {
		return "", fmt.Errorf("%s: %w", host, ErrNotShared)
	}
	return best, nil
}

func (r *Runner) OpenTree(ctx context.Context, name, from string) error {
	p := jsoncomm.TreeOpenParams{Tree: name}
	if from != "" {
		g, err := r.guestPath(from)
		if err != nil {
			return err
		}
		p.From = g
	}
	return r.explain(r.client.Call(ctx, jsoncomm.MethodTreeOpen, p, nil, nil))
}

// SaveTree has the guest write the archive into the out share, then copies
// it from there to to, and removes the guest's file.
//
// A copy, not a rename: the guest could still change a file it wrote.
// virtiofsd keeps a descriptor for every inode the guest looked up, so a
// write handle the guest opened before the host moved the file, or a hard
// link it made to the file inside the share, still reaches it after any
// rename on the host. Bytes copied into to, which the host opened and the
// guest never saw, are out of its reach once read; the store hashes them as
// they pass (store.Pending.WriteTree), so the digest is of exactly what the
// host keeps. The guest may still change the file during the copy, which
// only changes what it hands back, as it could have written anything in
// the first place. The copy is bounded by the size the file had when the
// guest's reply came, so a guest that keeps writing cannot keep the host
// copying; a file that shrinks meanwhile is refused. The file is opened
// without following a symlink and must be regular (O_NONBLOCK: a fifo
// would block the open).
func (r *Runner) SaveTree(ctx context.Context, name string, to io.Writer) error {
	tmp := filepath.Join(r.outDir, fmt.Sprintf("tree-%d.tar", r.seq.Add(1)))
	g, err := r.guestPath(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := r.client.Call(ctx, jsoncomm.MethodTreeSave, jsoncomm.TreeSaveParams{Tree: name, To: g}, nil, nil); err != nil {
		return r.explain(err)
	}
	if err := copyOut(ctx, tmp, to); err != nil {
		return fmt.Errorf("save tree %s: %w", name, err)
	}
	return nil
}

// copyOut copies the regular file at path, as large as it is now, to w.
func copyOut(ctx context.Context, path string, w io.Writer) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("the guest left a symlink, not a file: %w", ErrUntrusted)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("the guest left a %v, not a file: %w", fi.Mode().Type(), ErrUntrusted)
	}
	n, err := io.CopyBuffer(w, ctxio.Reader(ctx, io.LimitReader(f, fi.Size())), make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("archive shrank from %d to %d bytes while copied: %w", fi.Size(), n, ErrUntrusted)
	}
	return nil
}

// ErrUntrusted marks something the guest returned that the host refuses.
var ErrUntrusted = errors.New("refused guest output")

func (r *Runner) CloseTree(ctx context.Context, name string) error {
	return r.explain(r.client.Call(ctx, jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: name}, nil, nil))
}

func (r *Runner) RunStage(ctx context.Context, run *build.StageRun, out func(stream, text string)) (*build.StageResult, error) {
	p, err := r.params(run)
	if err != nil {
		return nil, err
	}
	var res jsoncomm.StageResult
	// the agent sends a stage's output a line at a time with its newline,
	// a long line in pieces (guest/runner streamLines): text as it is
	onLog := func(l jsoncomm.Log) { out(l.Stream, l.Text) }
	if err := r.client.Call(ctx, jsoncomm.MethodStageRun, p, &res, onLog); err != nil {
		return nil, r.explain(err)
	}
	if len(res.Metadata) > 0 && !isObject(res.Metadata) {
		return nil, fmt.Errorf("stage %s: metadata is not a JSON object: %w", run.Type, ErrUntrusted)
	}
	return &build.StageResult{
		Success: res.Success, ExitCode: res.ExitCode, Metadata: res.Metadata,
		Duration: time.Duration(res.Millis) * time.Millisecond,
	}, nil
}

func (r *Runner) params(run *build.StageRun) (*jsoncomm.StageRunParams, error) {
	p := &jsoncomm.StageRunParams{
		Tree: run.Tree, BuildRoot: run.BuildRoot, Type: run.Type, Kind: run.Kind, ID: run.ID,
		Options: run.Options, SourceEpoch: run.SourceEpoch,
		TimeoutSeconds: run.Timeout.Seconds(), Inputs: map[string]jsoncomm.StageInput{},
	}
	if run.Executable != "" {
		g, err := r.guestPath(run.Executable)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", run.Type, err)
		}
		p.Executable = g
	}
	for name, in := range run.Inputs {
		gi := jsoncomm.StageInput{Type: in.Type, Tree: in.Tree, Files: in.Files, Data: in.Data}
		if in.Dir != "" {
			g, err := r.guestPath(in.Dir)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", name, err)
			}
			gi.Path = g
		}
		p.Inputs[name] = gi
	}
	for _, d := range run.Devices {
		p.Devices = append(p.Devices, jsoncomm.StageDevice{Name: d.Name, Type: d.Type, Parent: d.Parent, Options: d.Options})
	}
	for _, m := range run.Mounts {
		p.Mounts = append(p.Mounts, jsoncomm.StageMount{
			Name: m.Name, Type: m.Type, Source: m.Source, Partition: m.Partition, Target: m.Target, Options: m.Options,
		})
	}
	return p, nil
}

// Close shuts the VM down.
func (r *Runner) Close() error {
	if r.close == nil {
		return nil
	}
	return r.close()
}

// isObject says whether raw is one JSON object (or null): metadata goes
// into the store and the --json result as it is.
func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}
