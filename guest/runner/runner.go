// Package runner serves the guest agent's working-tree and stage methods:
// tree.open, tree.save, tree.close and stage.run (see jsoncomm/methods.go).
//
// Working trees live on the guest-local filesystem under Config.WorkDir
// and travel to and from the host as PAX tar archives in shares
// (package treetar). Each stage runs in namespaces of its own, set up by a
// re-executed guest binary (package sandbox), seeing only its build root,
// its tree and its inputs.
//
// On disk, below WorkDir:
//
//	trees/<name>/            one working tree per tree.open
//	calls/<n>/               one per setup process, made when it starts
//	                         (spares: ahead of their stage), removed with it
//	    api/arguments        osbuild's arguments document
//	    meta                 the stage's metadata, if it writes any
//	    root/                where the setup process assembles a build root
//	    staging/             read-only binds of file-list inputs
//	    ahead/               mounts it builds before its spec (sandbox.Main)
//
// The sandbox.Spec travels to the setup process on its standard input.
//
// A stage is bounded (bounds.go): each setup process starts in a cgroup
// of its own, <Config.Cgroup>/call-<n>, whose pids.max caps the stage's
// processes, and a stage refused a fork is killed; at most MaxStageOutput
// of its output is forwarded; a stage that fails with the working file
// system full is told apart from one that fails for its own reasons.
package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// DefaultKillGrace is how long a stage has between SIGTERM and SIGKILL
// when Config.KillGrace is zero.
const DefaultKillGrace = 10 * time.Second

// DefaultSpares is Config.Spares when zero.
const DefaultSpares = 3

// Config is what the runner needs from the agent.
type Config struct {
	// WorkDir holds working trees; in the guest a tmpfs at
	// /run/osbuild-vm/work. It is created when missing.
	WorkDir string
	// Self is the multi-call guest binary (/init in the guest): it is
	// re-executed with sandbox.SetupArg to set up each stage, and is the
	// executable of built-in stages.
	Self string
	// KillGrace is the time between SIGTERM and SIGKILL when a stage times
	// out or its call is canceled; zero means DefaultKillGrace.
	KillGrace time.Duration
	// Spares is how many setup processes are kept started ahead (see
	// spare.go); zero means DefaultSpares, negative none.
	Spares int
	// Cgroup is a cgroup v2 directory whose children have the pids
	// controller (in the guest, the root of a cgroup2 mount with +pids in
	// its cgroup.subtree_control). Each setup process starts in a cgroup
	// of its own under it, which bounds its stage's processes; empty means
	// no bound (tests on a host whose cgroups are not the runner's).
	Cgroup string
	// MaxProcesses is the bound, pids.max; zero means DefaultMaxProcesses.
	MaxProcesses int
	// DeviceModules, when set, blocks until the kernel modules that
	// devices and mounts need (loop, vfat, ...) are loaded; the agent
	// loads them after it said hello. Only stages with devices or mounts
	// wait for it.
	DeviceModules func()
}

// Runner serves the methods. Its zero value is not usable; use New.
type Runner struct {
	cfg    Config
	trees  registry
	calls  atomic.Uint64
	spares spares
	// exiting counts setup processes still exiting after their stage's
	// end was reported (reapLater).
	exiting sync.WaitGroup
}

// New checks cfg and prepares WorkDir.
func New(cfg Config) (*Runner, error) {
	if !filepath.IsAbs(cfg.WorkDir) || !filepath.IsAbs(cfg.Self) {
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "runner config: WorkDir %q and Self %q must be absolute", cfg.WorkDir, cfg.Self)
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	if cfg.Spares == 0 {
		cfg.Spares = DefaultSpares
	}
	if cfg.MaxProcesses == 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	for _, d := range []string{"trees", "calls"} {
		if err := os.MkdirAll(filepath.Join(cfg.WorkDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("runner config: %w", err)
		}
	}
	return &Runner{cfg: cfg, trees: registry{trees: map[string]*treeState{}}}, nil
}

// Register makes a Runner from cfg and serves its methods on srv.
func Register(srv *jsoncomm.Server, cfg Config) (*Runner, error) {
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	r.Register(srv)
	return r, nil
}

// Register serves tree.open, tree.save, tree.close and stage.run on srv.
func (r *Runner) Register(srv *jsoncomm.Server) {
	srv.Handle(jsoncomm.MethodTreeOpen, handler(r.TreeOpen))
	srv.Handle(jsoncomm.MethodTreeSave, handler(r.TreeSave))
	srv.Handle(jsoncomm.MethodTreeClose, handler(r.TreeClose))
	srv.Handle(jsoncomm.MethodStageRun, handler(r.StageRun))
}

// SetupArg is argv[1] of the stage setup process; see IsSetup.
const SetupArg = sandbox.SetupArg

// IsSetup reports whether args (os.Args) start a stage setup process. The
// guest main checks this first, before treating PID 1 as the agent: the
// setup process is PID 1 of its own namespace.
func IsSetup(args []string) bool { return len(args) > 1 && args[1] == SetupArg }

// SetupMain runs the stage setup process and returns its exit code for
// main to exit with. builtin finds the binary's built-in stages, which
// then run in the setup process; nil executes every stage.
func SetupMain(builtin sandbox.Builtin) int { return sandbox.Main(os.Args, builtin) }
