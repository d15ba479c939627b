package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/validate"
)

// runOptions is everything `osbuild-vm run` was asked to do, parsed and
// checked. Paths are absolute. buildManifest receives it.
type runOptions struct {
	ManifestPath string // as given; "-" means standard input
	ManifestName string // for messages: the path, or "<stdin>"

	Store           string          // --store/--cache DIR: the object store (default ".osbuild")
	OutputDirectory string          // --output-directory DIR: where exports go; "" for none
	Checkpoints     []string        // --checkpoint PATTERN (repeatable), as given
	CheckpointIDs   map[string]bool // the stage IDs those patterns selected (empty without --checkpoint)
	Exports         []string        // --export NAME|ID (repeatable), without duplicates, in order
	Inspect         bool            // --inspect: print the manifest with IDs and stop
	JSON            bool            // --json: machine-readable result on stdout
	Libdirs         []string        // --libdir DIR (repeatable), searched before the built-in modules
	Modules         *modules.Index  // the module index over Libdirs and the built-ins

	CacheMaxSize int64 // --cache-max-size in bytes; -1 for "unlimited"; 0 when not given
	CacheMaxSet  bool  // whether --cache-max-size was given

	Monitor      string        // NullMonitor, LogMonitor or JSONSeqMonitor (default: LogMonitor, NullMonitor with --json)
	MonitorFD    int           // --monitor-fd: file descriptor the monitor writes to (default 1)
	StageTimeout time.Duration // --stage-timeout SECONDS; 0 means no limit

	Arch     string // --arch: target architecture, amd64 or arm64 (default: the host's)
	Accel    string // --accel: auto, kvm or tcg
	Memory   int64  // --memory: guest RAM in bytes (default 2 GiB)
	CPUs     int    // --cpus: guest CPUs (default: the host's, at most 4)
	Mirror   string // --mirror, else $OSBUILD_VM_MIRROR; "" means read apt's configuration
	Refresh  bool   // --refresh: fetch InRelease for package requests even when cached recently
	VMKernel string // --vm-kernel DIR: a directory with the build VM's kernel; "" for the default

	Remote remoteFlags // --remote-cache REF, --remote-cache-push, --remote-cache-plain-http
}

// maxManifestSize bounds the manifest read; the largest upstream test
// manifest is under 0.5 MB.
const maxManifestSize = 256 << 20

var monitors = []string{"NullMonitor", "LogMonitor", "JSONSeqMonitor"}

// runCmd implements `osbuild-vm run`: parse flags, read, validate and
// load the manifest, resolve exports and checkpoints, print --inspect, and
// hand everything else to buildManifest. Invalid manifests and flags exit
// 2 before anything touches the store.
func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts, err := parseRunFlags(args, stdout)
	if err != nil || opts == nil {
		return err
	}
	data, err := readManifest(opts.ManifestPath, stdin)
	if err != nil {
		return exitf(ExitInvalid, "run: %v", err)
	}
	if data, err = resolveForRun(ctx, opts, data, stderr); err != nil {
		return err
	}
	m, err := loadManifest(opts, data, stdout, stderr)
	if err != nil {
		return err
	}
	if err := resolveTargets(opts, m); err != nil {
		return err
	}
	if opts.Inspect {
		out, err := m.Inspect()
		if err != nil {
			return exitf(ExitFailed, "run: inspect: %v", err)
		}
		_, err = stdout.Write(out)
		return err
	}
	if len(opts.Exports) > 0 && opts.OutputDirectory == "" {
		return exitf(ExitFailed, "run: --export needs --output-directory DIR")
	}
	return buildManifest(ctx, opts, m, stdout, stderr)
}

// loadManifest validates against the schemas (reporting every problem)
// and then loads (references, cycles, IDs).
func loadManifest(opts *runOptions, data []byte, stdout, stderr io.Writer) (*manifest.Manifest, error) {
	res, err := validate.New(opts.Modules).Manifest(data)
	if err != nil && !errors.Is(err, validate.ErrSyntax) {
		return nil, exitf(ExitFailed, "run: validate %s: %v", opts.ManifestName, err)
	}
	if err == nil && !res.Valid() {
		if opts.JSON || opts.Inspect {
			_, _ = stdout.Write(res.JSON())
		} else {
			_ = res.WriteText(stderr, opts.ManifestName)
		}
		return nil, exitf(ExitInvalid, "run: %s has %d schema problem(s); fix them and run again", opts.ManifestName, len(res.Problems))
	}
	m, err := manifest.Load(data)
	if err != nil {
		return nil, exitf(ExitInvalid, "run: %s: %v", opts.ManifestName, err)
	}
	m.HostRunner = opts.Modules.HostRunner(modules.ReadOSRelease(modules.OSReleasePaths...))
	return m, nil
}

// resolveTargets checks --export names and turns --checkpoint patterns
// into stage IDs, failing (exit 1) as osbuild does.
func resolveTargets(opts *runOptions, m *manifest.Manifest) error {
	for _, e := range opts.Exports {
		if _, err := m.Export(e); err != nil {
			return exitf(ExitFailed, "run: %v", err)
		}
	}
	opts.CheckpointIDs = map[string]bool{}
	if len(opts.Checkpoints) == 0 {
		return nil
	}
	ids, err := m.Checkpoints(opts.Checkpoints)
	if err != nil {
		return exitf(ExitFailed, "run: %v", err)
	}
	opts.CheckpointIDs = ids
	return nil
}

func readManifest(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("read manifest %s: larger than %d bytes", path, maxManifestSize)
	}
	return data, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// funcValue adapts a parse function to a flag.Value.
type funcValue func(string) error

func (f funcValue) String() string     { return "" }
func (f funcValue) Set(v string) error { return f(v) }

const runUsage = `usage: osbuild-vm run [flags] MANIFEST

Build an osbuild manifest (format version 1 or 2; - reads standard input),
running every stage in a VM of the target architecture.

osbuild's flags:
  --store, --cache DIR     object store (default .osbuild)
  --output-directory DIR   where --export writes pipelines
  --checkpoint PATTERN     commit matching stages to the store (repeatable; globs on
                           pipeline names, stage IDs and stage types)
  --export NAME|ID         pipeline to export (repeatable)
  --inspect                print the manifest with all IDs and exit
  --json                   print results as JSON
  -l, --libdir DIR         modules directory, searched before the built-ins (repeatable)
  --cache-max-size SIZE    bytes, with kB KiB MB MiB GB GiB TB TiB, or unlimited
  --monitor NAME           NullMonitor, LogMonitor or JSONSeqMonitor
  --monitor-fd FD          file descriptor for the monitor (default 1)
  --stage-timeout SECONDS  time limit for each stage
  --version                print the version
osbuild-vm's flags:
  --arch ARCH              amd64 or arm64 (default: the host's)
  --accel MODE             auto, kvm or tcg (default auto)
  --memory SIZE            guest memory, e.g. 2GiB (default 2GiB)
  --cpus N                 guest CPUs (default: the host's, at most 4)
  --mirror URL             Debian mirror (default $OSBUILD_VM_MIRROR, else apt's configuration)
  --vm-kernel DIR          use the build VM kernel from DIR
  --refresh                re-read the archive for mpp-depsolve-deb requests even when
                           its index was cached less than an hour ago
` + remoteUsage + `
A manifest with mpp-depsolve-deb package requests is resolved first (see
osbuild-vm depsolve -h); the pinned manifest is written to
<output-directory>/manifest.pinned.json.
`

// parseRunFlags parses osbuild's flags and ours. Flags may come before or
// after MANIFEST, as with Python's argparse. It returns nil options (and
// no error) when -h or --version already answered.
func parseRunFlags(args []string, stdout io.Writer) (*runOptions, error) {
	opts := &runOptions{Store: ".osbuild", MonitorFD: 1, Arch: runtime.GOARCH, Accel: "auto",
		Memory: 2 << 30, CPUs: min(runtime.NumCPU(), 4), Mirror: os.Getenv("OSBUILD_VM_MIRROR")}
	fs, version := runFlagSet(opts)
	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, runUsage)
		return nil, nil
	}
	if err != nil {
		return nil, exitf(ExitInvalid, "run: %v (see osbuild-vm run -h)", err)
	}
	if *version {
		fmt.Fprintln(stdout, "osbuild-vm", Version)
		return nil, nil
	}
	if len(positional) != 1 {
		return nil, exitf(ExitInvalid, "run: expected one MANIFEST argument, got %d (usage: osbuild-vm run [flags] MANIFEST)", len(positional))
	}
	opts.ManifestPath, opts.ManifestName = positional[0], positional[0]
	if opts.ManifestPath == "-" {
		opts.ManifestName = "<stdin>"
	}
	if err := opts.finish(); err != nil {
		return nil, exitf(ExitInvalid, "run: %v", err)
	}
	return opts, nil
}

func runFlagSet(o *runOptions) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.Store, "store", o.Store, "")
	fs.StringVar(&o.Store, "cache", o.Store, "")
	fs.StringVar(&o.OutputDirectory, "output-directory", "", "")
	fs.Var((*stringList)(&o.Checkpoints), "checkpoint", "")
	fs.Var((*stringList)(&o.Exports), "export", "")
	fs.Var((*stringList)(&o.Libdirs), "libdir", "")
	fs.Var((*stringList)(&o.Libdirs), "l", "")
	fs.BoolVar(&o.Inspect, "inspect", false, "")
	fs.BoolVar(&o.JSON, "json", false, "")
	fs.Var(funcValue(func(s string) (err error) {
		o.CacheMaxSet = true
		o.CacheMaxSize, err = parseSize(s)
		return err
	}), "cache-max-size", "")
	fs.StringVar(&o.Monitor, "monitor", "", "")
	fs.IntVar(&o.MonitorFD, "monitor-fd", o.MonitorFD, "")
	fs.Var(funcValue(func(s string) error { return parseSeconds(s, &o.StageTimeout) }), "stage-timeout", "")
	fs.StringVar(&o.Arch, "arch", o.Arch, "")
	fs.StringVar(&o.Accel, "accel", o.Accel, "")
	fs.Var(funcValue(func(s string) (err error) { o.Memory, err = parseMemory(s); return err }), "memory", "")
	fs.IntVar(&o.CPUs, "cpus", o.CPUs, "")
	fs.StringVar(&o.Mirror, "mirror", o.Mirror, "")
	fs.StringVar(&o.VMKernel, "vm-kernel", "", "")
	fs.BoolVar(&o.Refresh, "refresh", false, "")
	o.Remote.register(fs, true)
	return fs, fs.Bool("version", false, "")
}

// parseInterleaved parses flags anywhere among the arguments; everything
// after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional, rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return append(positional, rest...), nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// finish checks option values and makes paths absolute.
func (o *runOptions) finish() error {
	if err := o.checkChoices(); err != nil {
		return err
	}
	if o.MonitorFD < 0 || o.CPUs < 1 || o.CPUs > 64 {
		return fmt.Errorf("--monitor-fd must be >= 0 and --cpus between 1 and 64")
	}
	if err := o.Remote.check(); err != nil {
		return err
	}
	var err error
	for _, p := range []*string{&o.Store, &o.OutputDirectory, &o.VMKernel} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	for i, d := range o.Libdirs {
		if o.Libdirs[i], err = filepath.Abs(d); err != nil {
			return err
		}
	}
	o.Exports = dedupe(o.Exports)
	o.Modules = modules.NewIndex(o.Libdirs...)
	return nil
}

func (o *runOptions) checkChoices() error {
	if o.Monitor == "" {
		o.Monitor = "LogMonitor"
		if o.JSON {
			o.Monitor = "NullMonitor"
		}
	}
	choices := []struct {
		flag, value string
		allowed     []string
	}{
		{"--arch", o.Arch, []string{"amd64", "arm64"}},
		{"--accel", o.Accel, []string{"auto", "kvm", "tcg"}},
		{"--monitor", o.Monitor, monitors},
	}
	for _, c := range choices {
		if !contains(c.allowed, c.value) {
			return fmt.Errorf("%s: unknown value %q; use %s", c.flag, c.value, strings.Join(c.allowed, ", "))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// parseSize parses a size as osbuild does (store.ParseSize), with a hint.
func parseSize(s string) (int64, error) {
	n, err := store.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q; use bytes or a number with kB, KiB, MB, MiB, GB, GiB, TB or TiB, or unlimited", s)
	}
	return n, nil
}

// parseMemory parses --memory: a size, at least 256 MiB.
func parseMemory(s string) (int64, error) {
	n, err := parseSize(s)
	if err == nil && n < 256<<20 {
		err = fmt.Errorf("memory %q is too little; give at least 256MiB", s)
	}
	return n, err
}

func parseSeconds(s string, d *time.Duration) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<31 {
		return fmt.Errorf("invalid seconds %q", s)
	}
	*d = time.Duration(n) * time.Second
	return nil
}
