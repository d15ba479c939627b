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
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// Share is a host directory the guest sees at GuestDir.
type Share struct {
	HostDir, GuestDir string
}

// Runner implements build.Executor over one agent session.
type Runner struct {
	client *jsoncomm.Client
	shares []Share
	outDir string // the one host directory the guest may write
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
// longest matching directory (the writable out share lies inside the
// read-only run share).
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

// SaveTree has the guest write the archive into the out share, then moves
// it to to, out of the guest's reach, and only then checks that it is a
// regular file: the guest could have left a symlink or a device there, and
// checking before the move would race with it.
func (r *Runner) SaveTree(ctx context.Context, name, to string) error {
	tmp := filepath.Join(r.outDir, fmt.Sprintf("tree-%d.tar", r.seq.Add(1)))
	g, err := r.guestPath(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := r.client.Call(ctx, jsoncomm.MethodTreeSave, jsoncomm.TreeSaveParams{Tree: name, To: g}, nil, nil); err != nil {
		return r.explain(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		return fmt.Errorf("save tree %s: %w", name, err)
	}
	fi, err := os.Lstat(to)
	if err != nil {
		return fmt.Errorf("save tree %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		os.Remove(to)
		return fmt.Errorf("save tree %s: the guest left a %v, not a file: %w", name, fi.Mode().Type(), ErrUntrusted)
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
