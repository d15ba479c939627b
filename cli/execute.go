package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/monitor"
	"github.com/osbuild-vm/osbuild-vm/engine/sources"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"github.com/osbuild-vm/osbuild-vm/host/guestbin"
	"github.com/osbuild-vm/osbuild-vm/host/runner"
	"github.com/osbuild-vm/osbuild-vm/host/vm"
)

// execConfig is what a build needs from the command line.
type execConfig struct {
	ManifestPath string
	StoreDir     string
	MaxSize      *int64 // nil: the store's recorded limit
	OutputDir    string
	Checkpoints  map[string]bool // stage IDs the --checkpoint patterns selected
	Exports      []string
	Libdirs      []string
	Monitor      monitor.Monitor
	JSON         bool
	StageTimeout time.Duration
	Arch, Accel  string
	MemoryMiB    int
	CPUs         int
	Mirror       string
	VMKernel     string
	Debug        bool
	Remote       remoteFlags // --remote-cache and its flags
	remote       *remote     // the run's use of it (cli/remotecache.go)
}

// execute fetches the sources, builds what the exports need in the build
// VM and writes the exports, reporting through cfg.Monitor and, with
// --json, osbuild's result document on stdout.
func execute(ctx context.Context, cfg execConfig, m *manifest.Manifest, stdout, stderr io.Writer) error {
	st, err := store.Open(cfg.StoreDir, store.Options{MaxSize: cfg.MaxSize})
	if err != nil {
		return exitf(ExitFailed, "%v", err)
	}
	defer st.Close()
	mon := cfg.Monitor
	res := &monitor.Result{}
	for _, p := range m.Pipelines {
		res.Pipeline(p.Name, p.ID, buildName(p))
	}
	mon.RunStarted(cfg.ManifestPath, len(m.Sources)+len(m.Pipelines))
	err = fetchSources(ctx, st, m, mon, res)
	cfg.remote = openRemote(cfg.Remote, func(s string) { mon.Output(s+"\n", "osbuild-vm") })
	if err == nil {
		err = cfg.remote.pull(ctx, m, st, cfg.Exports)
	}
	if err == nil {
		err = runBuild(ctx, cfg, m, st, res)
	}
	cfg.remote.finish() // waits for pushes, which read the store
	mon.RunFinished(cfg.ManifestPath, err == nil)
	var jsonErr error
	if cfg.JSON {
		jsonErr = res.WriteJSON(stdout, fmt.Sprint(m.Version))
	}
	return buildExit(ctx, withReportErrors(err, mon.Err(), jsonErr), stderr)
}

// withReportErrors adds the failures to report a run (its monitor's
// output, the --json document) to the build's own error: a run whose
// result could not be written has failed, even when the build did not.
func withReportErrors(err error, reportErrs ...error) error {
	for _, re := range reportErrs {
		switch {
		case re == nil:
		case err == nil:
			err = fmt.Errorf("run: %w", re)
		default:
			err = fmt.Errorf("%w; and %v", err, re)
		}
	}
	return err
}

func buildName(p *manifest.Pipeline) string {
	if p.Build == nil {
		return ""
	}
	return p.Build.Name
}

// fetchSources downloads and verifies every source item into the store.
func fetchSources(ctx context.Context, st *store.Store, m *manifest.Manifest, mon monitor.Monitor, res *monitor.Result) error {
	report, err := sources.Fetch(ctx, st.SourceDir, m.Sources, sources.Options{
		Progress: func(p sources.Progress) {
			mon.Download(monitor.Download{Checksum: p.Checksum, URL: p.URL, Done: p.Done, Total: p.Total})
		},
	})
	for _, typ := range sortedKeys(report) {
		sr := monitor.SourceResult{Type: typ}
		for _, it := range report[typ] {
			sr.Items = append(sr.Items, monitor.SourceItem{Checksum: it.Checksum, Cached: it.Cached, Error: it.Error})
		}
		mon.SourceStarted(typ)
		mon.SourceFinished(sr)
		res.Source(sr)
	}
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	return nil
}

// runBuild builds in the VM, booted only if anything is left to build.
func runBuild(ctx context.Context, cfg execConfig, m *manifest.Manifest, st *store.Store, res *monitor.Result) error {
	index := modules.NewIndex(cfg.Libdirs...)
	shares, err := vmShares(st, cfg.Libdirs)
	if err != nil {
		return err
	}
	r, err := build.Run(ctx, m, build.Config{
		Store: cfg.remote.wrap(ctx, st, build.FromStore(st)),
		NewExecutor: func(ctx context.Context) (build.Executor, error) {
			return runner.Boot(ctx, runner.BootConfig{
				StoreDir: st.Root(), Arch: cfg.Arch, Accel: cfg.Accel, MemoryMiB: cfg.MemoryMiB,
				CPUs: cfg.CPUs, Mirror: cfg.Mirror, KernelDir: cfg.VMKernel, Shares: shares,
				GuestBinary: guestbin.Binary, Debug: cfg.Debug,
			})
		},
		Resolve:      resolver(index),
		SourcesDir:   st.SourceDir(sources.FilesDir),
		Checkpoints:  cfg.Checkpoints,
		Exports:      cfg.Exports,
		OutputDir:    cfg.OutputDir,
		StageTimeout: cfg.StageTimeout,
		Monitor:      &monitorAdapter{m: cfg.Monitor},
		PrepareDir:   st.FloatingDir(),
		Prepare:      prepare(st),
	})
	recordResult(res, r)
	return err
}

// vmShares are the host directories the build VM sees: committed objects,
// sources and this run's floating objects read-only, each libdir
// read-only, and one empty directory it may write tree archives into,
// which the host copies out of its reach before trusting them.
func vmShares(st *store.Store, libdirs []string) ([]vm.Share, error) {
	out := filepath.Join(st.RunDir(), "vm-out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	shares := []vm.Share{
		{Tag: "objects", Dir: filepath.Join(st.Root(), "objects"), ReadOnly: true},
		{Tag: "sources", Dir: filepath.Join(st.Root(), "sources"), ReadOnly: true},
		{Tag: "run", Dir: st.FloatingDir(), ReadOnly: true},
		{Tag: "out", Dir: out},
	}
	for i, d := range libdirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			abs = d
		}
		shares = append(shares, vm.Share{Tag: fmt.Sprintf("libdir%d", i), Dir: abs, ReadOnly: true})
	}
	return shares, nil
}

// resolver maps a stage to its executable: "" for a built-in one.
func resolver(index *modules.Index) func(kind, typ string) (string, error) {
	return func(kind, typ string) (string, error) {
		path, builtin, err := index.Executable(modules.Kind(kind), typ)
		if err != nil {
			return "", err
		}
		if builtin {
			return "", nil
		}
		return path, nil
	}
}

func recordResult(res *monitor.Result, r *build.Result) {
	if r == nil {
		return
	}
	for _, p := range r.Pipelines {
		for _, s := range p.Stages {
			res.Stage(p.Name, monitor.StageResult{
				Type: s.Type, ID: s.ID, Success: s.Success, Output: s.Output, Metadata: s.Metadata,
			})
		}
	}
}

// buildExit maps a build error to osbuild's exit codes, printing a failing
// stage's log tail so the user sees why without --json.
func buildExit(ctx context.Context, err error, stderr io.Writer) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("interrupted")}
	}
	var se *build.StageError
	if errors.As(err, &se) {
		fmt.Fprintf(stderr, "stage %s failed; its last output:\n%s\n", se.Type, indent(se.Tail(30)))
	}
	return &ExitError{Code: ExitFailed, Err: err}
}
