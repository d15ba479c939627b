package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
	"github.com/osbuild-vm/osbuild-vm/engine/remotecache"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// remoteCacheEnv is the default of --remote-cache.
const remoteCacheEnv = "OSBUILD_VM_REMOTE_CACHE"

// remoteFlags are the remote-cache flags of `run` and `cache`.
type remoteFlags struct {
	Ref       string // --remote-cache REF, else $OSBUILD_VM_REMOTE_CACHE; "" for none
	Push      bool   // --remote-cache-push: push what the run commits
	PlainHTTP bool   // --remote-cache-plain-http
}

const remoteUsage = `  --remote-cache REF       share checkpoints through the OCI registry repository REF
                           (HOST[:PORT]/REPOSITORY; default $OSBUILD_VM_REMOTE_CACHE):
                           pull what the store lacks before building
  --remote-cache-push      push each checkpoint this run commits to REF
  --remote-cache-plain-http
                           speak plain HTTP to the registry (default HTTPS)
`

// register adds the flags to fs, --remote-cache-push only when push.
func (f *remoteFlags) register(fs *flag.FlagSet, push bool) {
	f.Ref = os.Getenv(remoteCacheEnv)
	fs.StringVar(&f.Ref, "remote-cache", f.Ref, "")
	fs.BoolVar(&f.PlainHTTP, "remote-cache-plain-http", false, "")
	if push {
		fs.BoolVar(&f.Push, "remote-cache-push", false, "")
	}
}

// check validates the flags before anything runs.
func (f *remoteFlags) check() error {
	if f.Ref == "" {
		if f.Push {
			return fmt.Errorf("--remote-cache-push needs --remote-cache REF (or $%s)", remoteCacheEnv)
		}
		return nil
	}
	if _, err := remotecache.ParseRef(f.Ref); err != nil {
		return fmt.Errorf("--remote-cache: %w", err)
	}
	return nil
}

// open opens the remote cache the flags name.
func (f *remoteFlags) open() (*remotecache.Cache, error) {
	return remotecache.Open(f.Ref, remotecache.Options{PlainHTTP: f.PlainHTTP})
}

// remote is one run's use of the remote cache: the pull before planning
// and the pushes after commits. Its failures never fail the build: the
// remote cache only saves work, so on a failure the run says so in one
// line and builds (or keeps) what it has locally. A nil *remote does
// nothing.
type remote struct {
	c      *remotecache.Cache
	push   bool
	notice func(string)

	seen map[string]bool // the pull's answers, by object id
	off  bool            // no more lookups: the registry failed us

	wg      sync.WaitGroup
	mu      sync.Mutex // serialises pushes and guards what follows
	pushOff bool
	pushed  []string // notices of the pushes, printed by finish
}

// openRemote starts the run's use of the remote cache, or returns nil
// without --remote-cache or when it cannot be opened (said in one line).
func openRemote(f remoteFlags, notice func(string)) *remote {
	if f.Ref == "" {
		return nil
	}
	c, err := f.open()
	if err != nil {
		notice(fmt.Sprintf("remote cache: %v; building without it", err))
		return nil
	}
	return &remote{c: c, push: f.Push, notice: notice, seen: map[string]bool{}}
}

// pull fetches, before the run plans, the objects its plan will reuse:
// build.Plan walks the manifest exactly as the run's planning does, and
// each object it asks about that the store lacks is pulled if the
// registry has it. So the run resumes from the deepest checkpoint found
// locally or remotely, and pulls nothing it will not use.
func (r *remote) pull(ctx context.Context, m *manifest.Manifest, st *store.Store, exports []string) error {
	if r == nil || len(exports) == 0 {
		return nil
	}
	// The plan itself is not needed, only its questions; an unknown
	// export is reported by the run's own planning.
	build.Plan(m, exports, func(id string) bool { return r.have(ctx, st, id) })
	return ctx.Err()
}

// have says whether object id is in st, intact, pulling it if needed.
func (r *remote) have(ctx context.Context, st *store.Store, id string) bool {
	if ok, done := r.seen[id]; done {
		return ok
	}
	ok := r.local(st, id) || r.fetch(ctx, st, id)
	r.seen[id] = ok
	return ok
}

// local checks the store's own copy (its digest, as the run would).
func (r *remote) local(st *store.Store, id string) bool {
	_, err := st.Tree(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		r.notice(fmt.Sprintf("store: %v; looking for it in %s", err, r.c.Ref()))
	}
	return err == nil
}

// fetch pulls object id into st.
func (r *remote) fetch(ctx context.Context, st *store.Store, id string) bool {
	if r.off || ctx.Err() != nil {
		return false
	}
	t, err := r.c.Pull(ctx, st, id)
	switch {
	case err == nil:
		r.notice(fmt.Sprintf("remote cache: pulled %s from %s (%d bytes)", id, r.c.Ref(), t.Bytes))
		return true
	case errors.Is(err, remotecache.ErrNotFound) || ctx.Err() != nil:
	case errors.Is(err, remotecache.ErrRefused):
		r.notice(fmt.Sprintf("remote cache: %v; building it", err))
	default:
		r.notice(fmt.Sprintf("remote cache: %v; building without it", err))
		r.off = true
	}
	return false
}

// wrap makes s push each object it commits, with --remote-cache-push.
func (r *remote) wrap(ctx context.Context, st *store.Store, s build.Store) build.Store {
	if r == nil || !r.push {
		return s
	}
	return &pushingStore{Store: s, push: func(id string) { r.startPush(ctx, st, id) }}
}

// pushingStore is a build.Store that pushes what it committed.
type pushingStore struct {
	build.Store
	push func(id string)
}

func (p *pushingStore) Commit(id string, write func(w io.Writer) error, meta map[string]json.RawMessage) error {
	if err := p.Store.Commit(id, write, meta); err != nil {
		return err
	}
	p.push(id)
	return nil
}

// startPush pushes object id in the background, one push at a time, while
// the build goes on; finish waits for it.
func (r *remote) startPush(ctx context.Context, st *store.Store, id string) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.pushOff {
			return
		}
		t, err := r.c.Push(ctx, st, id)
		switch {
		case err != nil:
			r.pushed = append(r.pushed, fmt.Sprintf("remote cache: %v; not pushing the rest", err))
			r.pushOff = true
		case t.Present:
			r.pushed = append(r.pushed, fmt.Sprintf("remote cache: %s is already in %s", id, r.c.Ref()))
		default:
			r.pushed = append(r.pushed, fmt.Sprintf("remote cache: pushed %s to %s (%d bytes)", id, r.c.Ref(), t.Bytes))
		}
	}()
}

// finish waits for the pushes and reports them. The store must stay open
// until then: the objects pushed may be floating ones of this run.
func (r *remote) finish() {
	if r == nil {
		return
	}
	r.wg.Wait()
	for _, line := range r.pushed {
		r.notice(line)
	}
}
