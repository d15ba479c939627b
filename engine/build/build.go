package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// Store is what the builder needs of the object store.
type Store interface {
	// TreeArchive returns the host path of committed object id's tree
	// archive, checked against the digest recorded at its commit. An error
	// wrapping ErrNotStored is a plain miss; any other error says the
	// object was there but is unusable (changed on disk since its commit)
	// and gone from the store, and the builder rebuilds it.
	TreeArchive(id string) (string, error)
	// Commit stores object id: write streams its tree archive to w, then
	// the object is committed atomically with meta.
	Commit(id string, write func(w io.Writer) error, meta map[string]json.RawMessage) error
}

// ErrNotStored is a Store's miss.
var ErrNotStored = errors.New("not in the store")

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
	// Checkpoints are the stage IDs to commit (manifest.Checkpoints).
	Checkpoints map[string]bool
	// Exports are pipeline names or IDs to write to OutputDir/<name>.
	Exports      []string
	OutputDir    string
	StageTimeout time.Duration
	Monitor      Monitor
	// PrepareDir is a directory the executor can read, where Prepare
	// writes its archives.
	PrepareDir string
	// Prepare, by stage type, does natively on the host the part of a
	// stage that runs no target code, before the VM runs the rest: it may
	// hand the stage more inputs (packages made faster to unpack) and,
	// when the stage starts its pipeline on an empty tree, the tree
	// archive the stage then finds (a new Debian system's essential set,
	// unpacked). The stage must give the same result without it.
	Prepare map[string]PrepareFunc
}

// Prepared is what the host's part of a stage hands on.
type Prepared struct {
	// Archive is a tree archive (in PrepareDir) to start the empty tree
	// from, or "".
	Archive string
	// Inputs are added to the stage's inputs.
	Inputs map[string]StageInput
	// Note says what was done, for the stage's log.
	Note string
}

// PrepareFunc is the host's part of a stage, given the stage's inputs as
// the executor gets them and whether its tree is empty.
type PrepareFunc func(ctx context.Context, inputs map[string]StageInput, empty bool, dir string) (*Prepared, error)

// ErrStageFailed is returned (wrapped) when a stage exits non-zero.
var ErrStageFailed = errors.New("stage failed")

// builder is one run's state.
type builder struct {
	cfg      Config
	m        *manifest.Manifest
	exec     Executor
	floating map[string]bool // working trees in the executor, by content ID
	empty    map[string]bool // working trees opened empty that no stage has touched
	result   *Result
}

// Run builds what cfg.Exports need and writes them. The returned Result is
// complete as far as the run got, also when the error is non-nil.
func Run(ctx context.Context, m *manifest.Manifest, cfg Config) (res *Result, err error) {
	if cfg.Monitor == nil {
		cfg.Monitor = nopMonitor{}
	}
	b := &builder{cfg: cfg, m: m, floating: map[string]bool{}, empty: map[string]bool{}, result: newResult()}
	defer func() {
		if b.exec != nil {
			err = errors.Join(err, b.exec.Close())
		}
	}()
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
// or committed in the store (and intact: the plan never counts on a
// damaged object, so it rebuilds it).
func (b *builder) contains(id string) bool {
	if b.floating[id] {
		return true
	}
	_, ok := b.stored(id)
	return ok
}

// stored returns the tree archive of committed object id. An object that
// changed on disk since its commit is reported in one line and is a miss.
func (b *builder) stored(id string) (string, bool) {
	path, err := b.cfg.Store.TreeArchive(id)
	if err != nil && !errors.Is(err, ErrNotStored) {
		b.cfg.Monitor.Notice(fmt.Sprintf("store: %v; rebuilding it", err))
	}
	return path, err == nil
}

// depsolve returns the pipelines to build, dependencies first (Plan).
func (b *builder) depsolve(targets []string) ([]*manifest.Pipeline, error) {
	return Plan(b.m, targets, b.contains)
}

// kind says whether s is run as a stage or a v1 assembler.
func kind(s *manifest.Stage) string {
	if s.Assembler {
		return "assemblers"
	}
	return "stages"
}
