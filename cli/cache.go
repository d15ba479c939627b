package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/remotecache"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

const cacheUsage = `usage: osbuild-vm cache COMMAND [flags] ARGS

Share store objects through an OCI registry (see "Remote cache" in the README).

commands:
  push ID|PATTERN...   push objects of the store; PATTERN is a glob over object IDs
  pull ID...           pull objects into the store (needs a store that keeps objects:
                       --cache-max-size)
  ls MANIFEST          say which of the manifest's checkpoints are local, remote or missing

flags:
  --store, --cache DIR     object store (default .osbuild)
  --cache-max-size SIZE    (pull) size limit to record in the store, as for run
  --checkpoint PATTERN     (ls) the checkpoints to list (repeatable; default: every stage)
  -l, --libdir DIR         (ls) modules directory, as for run
  --remote-cache REF       the OCI registry repository, HOST[:PORT]/REPOSITORY
                           (default $OSBUILD_VM_REMOTE_CACHE; ls without it shows the store only)
  --remote-cache-plain-http
                           speak plain HTTP to the registry (default HTTPS)
`

// cacheOptions are the flags of the cache subcommands.
type cacheOptions struct {
	Store       string
	Remote      remoteFlags
	MaxSize     *int64
	Checkpoints []string
	Libdirs     []string
}

// cacheCmd implements `osbuild-vm cache push|pull|ls`.
func cacheCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, cacheUsage)
		if len(args) == 0 {
			return &ExitError{Code: ExitInvalid}
		}
		return nil
	}
	cmds := map[string]func(context.Context, *cacheOptions, []string, io.Writer) error{
		"push": cachePush, "pull": cachePull, "ls": cacheLs,
	}
	run, ok := cmds[args[0]]
	if !ok {
		return exitf(ExitInvalid, "cache: unknown command %q; use push, pull or ls", args[0])
	}
	opts, rest, err := parseCacheFlags(args[0], args[1:], stdout)
	if err != nil || opts == nil {
		return err
	}
	return run(ctx, opts, rest, stdout)
}

// parseCacheFlags parses the flags of cache subcommand name. It returns
// nil options when -h answered.
func parseCacheFlags(name string, args []string, stdout io.Writer) (*cacheOptions, []string, error) {
	o := &cacheOptions{Store: ".osbuild"}
	fs := flag.NewFlagSet("cache "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Store, "store", o.Store, "")
	fs.StringVar(&o.Store, "cache", o.Store, "")
	o.Remote.register(fs, false)
	fs.Var(funcValue(func(s string) error {
		n, err := parseSize(s)
		o.MaxSize = &n
		return err
	}), "cache-max-size", "")
	fs.Var((*stringList)(&o.Checkpoints), "checkpoint", "")
	fs.Var((*stringList)(&o.Libdirs), "libdir", "")
	fs.Var((*stringList)(&o.Libdirs), "l", "")
	rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, cacheUsage)
		return nil, nil, nil
	}
	if err == nil {
		err = o.Remote.check()
	}
	if err == nil && len(rest) == 0 {
		err = fmt.Errorf("expected arguments (see osbuild-vm cache -h)")
	}
	if err != nil {
		return nil, nil, exitf(ExitInvalid, "cache %s: %v", name, err)
	}
	return o, rest, nil
}

// openCache opens the remote cache the flags name, which push and pull
// need.
func (o *cacheOptions) openCache(name string) (*remotecache.Cache, error) {
	if o.Remote.Ref == "" {
		return nil, exitf(ExitInvalid, "cache %s: no remote cache; give --remote-cache REF or set $%s", name, remoteCacheEnv)
	}
	c, err := o.Remote.open()
	if err != nil {
		return nil, exitf(ExitFailed, "cache %s: %v", name, err)
	}
	return c, nil
}

// cachePush pushes the objects named by IDs or globs over the store's
// objects.
func cachePush(ctx context.Context, o *cacheOptions, args []string, stdout io.Writer) error {
	c, err := o.openCache("push")
	if err != nil {
		return err
	}
	st, err := store.Open(o.Store, store.Options{})
	if err != nil {
		return exitf(ExitFailed, "cache push: %v", err)
	}
	defer st.Close()
	ids, err := matchObjects(st, args)
	if err != nil {
		return err
	}
	for _, id := range ids {
		t, err := c.Push(ctx, st, id)
		if err != nil {
			return exitf(ExitFailed, "cache %v", err)
		}
		if t.Present {
			fmt.Fprintf(stdout, "%s is already in %s\n", id, c.Ref())
		} else {
			fmt.Fprintf(stdout, "pushed %s to %s (%d bytes)\n", id, c.Ref(), t.Bytes)
		}
	}
	return nil
}

// matchObjects returns the store's objects that args name: an ID names
// itself, anything else is a glob over object IDs that must match one.
func matchObjects(st *store.Store, args []string) ([]string, error) {
	all, err := st.Objects()
	if err != nil {
		return nil, exitf(ExitFailed, "cache push: %v", err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, a := range args {
		if _, err := path.Match(a, ""); err != nil || strings.Contains(a, "/") {
			return nil, exitf(ExitInvalid, "cache push: %q is neither an object ID nor a pattern over IDs (like 4f2a*)", a)
		}
		n := 0
		for _, id := range all {
			if ok, _ := path.Match(a, id); ok {
				n++
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		if n == 0 {
			return nil, exitf(ExitFailed, "cache push: no object in %s matches %q (list them with ls %s/objects)", st.Root(), a, st.Root())
		}
	}
	return ids, nil
}

// cachePull pulls objects into the store.
func cachePull(ctx context.Context, o *cacheOptions, ids []string, stdout io.Writer) error {
	for _, id := range ids {
		if err := store.ValidateID(id); err != nil {
			return exitf(ExitInvalid, "cache pull: %v", err)
		}
	}
	c, err := o.openCache("pull")
	if err != nil {
		return err
	}
	st, err := store.Open(o.Store, store.Options{MaxSize: o.MaxSize})
	if err != nil {
		return exitf(ExitFailed, "cache pull: %v", err)
	}
	defer st.Close()
	if st.Limit() == 0 {
		return exitf(ExitInvalid, "cache pull: the store %s keeps no objects (size limit 0); pass --cache-max-size SIZE or unlimited", st.Root())
	}
	for _, id := range ids {
		if _, err := st.Tree(id); err == nil {
			fmt.Fprintf(stdout, "%s is already in the store\n", id)
			continue
		}
		t, err := c.Pull(ctx, st, id)
		if err != nil {
			return exitf(ExitFailed, "cache %v", err)
		}
		if !st.Cached(id) {
			return exitf(ExitFailed, "cache pull %s: larger than the store's size limit; raise --cache-max-size", id)
		}
		fmt.Fprintf(stdout, "pulled %s from %s (%d bytes)\n", id, c.Ref(), t.Bytes)
	}
	return nil
}

// cacheLs prints, for each checkpoint of a manifest (every stage, or
// those --checkpoint selects), whether the store has it (intact), the
// remote cache has it, or neither.
func cacheLs(ctx context.Context, o *cacheOptions, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return exitf(ExitInvalid, "cache ls: expected one MANIFEST argument, got %d", len(args))
	}
	m, selected, err := loadCheckpoints(o, args[0], stdout)
	if err != nil {
		return err
	}
	var c *remotecache.Cache
	if o.Remote.Ref != "" {
		if c, err = o.openCache("ls"); err != nil {
			return err
		}
	}
	st, err := store.Open(o.Store, store.Options{})
	if err != nil {
		return exitf(ExitFailed, "cache ls: %v", err)
	}
	defer st.Close()
	for _, p := range m.Pipelines {
		for _, s := range p.Stages {
			if !selected[s.ID] {
				continue
			}
			where, err := locate(ctx, st, c, s.ID)
			if err != nil {
				return exitf(ExitFailed, "cache ls: %v", err)
			}
			fmt.Fprintf(stdout, "%-7s  %s  %s  %s\n", where, s.ID, p.Name, s.Type)
		}
	}
	return nil
}

// loadCheckpoints reads and validates a manifest as run does and returns
// the stage IDs that o.Checkpoints select (all without patterns).
func loadCheckpoints(o *cacheOptions, path string, stdout io.Writer) (*manifest.Manifest, map[string]bool, error) {
	data, err := readManifest(path, strings.NewReader(""))
	if err != nil {
		return nil, nil, exitf(ExitInvalid, "cache ls: %v", err)
	}
	ropts := &runOptions{ManifestPath: path, ManifestName: path, Libdirs: o.Libdirs, Modules: modules.NewIndex(o.Libdirs...)}
	m, err := loadManifest(ropts, data, stdout, stdout)
	if err != nil {
		return nil, nil, err
	}
	patterns := o.Checkpoints
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	selected, err := m.Checkpoints(patterns)
	if err != nil {
		return nil, nil, exitf(ExitFailed, "cache ls: %v", err)
	}
	return m, selected, nil
}

// locate says where object id is: "local", "remote" or "missing".
func locate(ctx context.Context, st *store.Store, c *remotecache.Cache, id string) (string, error) {
	if _, err := st.Tree(id); err == nil {
		return "local", nil
	}
	if c == nil {
		return "missing", nil
	}
	has, err := c.Has(ctx, id)
	if err != nil || !has {
		return "missing", err
	}
	return "remote", nil
}
