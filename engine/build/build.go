package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// Store is what the builder needs of the object store.
type Store interface {
	// TreeArchive is the host path of committed object id's tree archive.
	TreeArchive(id string) (string, bool)
	// Commit stores object id: write fills a fresh directory (with
	// "tree.tar"), then the object is committed atomically with meta.
	Commit(id string, write func(dir string) error, meta map[string]json.RawMessage) error
}

// Config is what a run needs besides the manifest.
type Config struct {
	Store Store
	// NewExecutor starts the executor; it is called at most once, and only
	// when something is left to build.
	NewExecutor func(ctx context.Context) (Executor, error)
	// Resolve finds a module's executable: "" means built in.
	Resolve func(kind, typ string) (string, error)
	// SourcesDir holds source items by checksum (org.osbuild.files).
	SourcesDir string
	// ScratchDir is a directory the executor can write, for exports.
	ScratchDir string
	// Checkpoints are the stage IDs to commit (manifest.Checkpoints).
	Checkpoints map[string]bool
	// Exports are pipeline names or IDs to write to OutputDir/<name>.
	Exports      []string
	OutputDir    string
	StageTimeout time.Duration
	Monitor      Monitor
}

// ErrStageFailed is returned (wrapped) when a stage exits non-zero.
var ErrStageFailed = errors.New("stage failed")

// builder is one run's state.
type builder struct {
	cfg      Config
	m        *manifest.Manifest
	exec     Executor
	floating map[string]bool // working trees in the executor, by content ID
	result   *Result
}

// Run builds what cfg.Exports need and writes them. The returned Result is
// complete as far as the run got, also when the error is non-nil.
func Run(ctx context.Context, m *manifest.Manifest, cfg Config) (res *Result, err error) {
	if cfg.Monitor == nil {
		cfg.Monitor = nopMonitor{}
	}
	b := &builder{cfg: cfg, m: m, floating: map[string]bool{}, result: newResult()}
	defer func() {
		if b.exec != nil {
			err = errors.Join(err, b.exec.Close())
		}
	}()
	if err := CheckSupported(m, cfg.Exports); err != nil {
		return b.result, err
	}
	plan, err := b.depsolve(cfg.Exports)
	if err != nil {
		return b.result, err
	}
	for i, p := range plan {
		cfg.Monitor.BeginPipeline(i+1, len(plan), p)
		err := b.pipeline(ctx, p)
		cfg.Monitor.EndPipeline(p, err == nil)
		if err != nil {
			b.result.Success = false
			return b.result, err
		}
	}
	return b.result, b.exportAll(ctx)
}

// contains says whether object id is available: floating in the executor
// or committed in the store.
func (b *builder) contains(id string) bool {
	if b.floating[id] {
		return true
	}
	_, ok := b.cfg.Store.TreeArchive(id)
	return ok
}

// depsolve returns the pipelines to build, dependencies first, as osbuild's
// Manifest.depsolve: starting from the exports, skipping pipelines already
// in the store, and looking at a pipeline's inputs only for stages after
// its last cached one.
func (b *builder) depsolve(targets []string) ([]*manifest.Pipeline, error) {
	var check []*manifest.Pipeline
	for _, t := range targets {
		p := b.m.Pipeline(t)
		if p == nil {
			return nil, fmt.Errorf("export %q: no such pipeline", t)
		}
		check = append(check, p)
	}
	var order []*manifest.Pipeline
	for len(check) > 0 {
		p := check[len(check)-1]
		check = check[:len(check)-1]
		if b.contains(p.ID) {
			continue
		}
		order = moveToEnd(order, p)
		if p.Build != nil {
			check = append(check, p.Build)
		}
		check = append(check, b.stageDeps(p)...)
	}
	for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
		order[i], order[j] = order[j], order[i]
	}
	return order, nil
}

func moveToEnd(order []*manifest.Pipeline, p *manifest.Pipeline) []*manifest.Pipeline {
	for i, q := range order {
		if q == p {
			order = append(order[:i], order[i+1:]...)
			break
		}
	}
	return append(order, p)
}

// stageDeps lists the pipelines that p's uncached stages take as inputs.
func (b *builder) stageDeps(p *manifest.Pipeline) []*manifest.Pipeline {
	var deps []*manifest.Pipeline
	for i := len(p.Stages) - 1; i >= 0; i-- {
		s := p.Stages[i]
		if b.contains(s.ID) {
			break
		}
		for _, name := range sortedKeys(s.Inputs) {
			in := s.Inputs[name]
			if in.Origin != "org.osbuild.pipeline" {
				continue
			}
			for _, r := range in.References {
				if q := b.m.Pipeline(r.ID); q != nil {
					deps = append(deps, q)
				}
			}
		}
	}
	return deps
}

// kind says whether s is run as a stage or a v1 assembler.
func kind(s *manifest.Stage) string {
	if s.Assembler {
		return "assemblers"
	}
	return "stages"
}
