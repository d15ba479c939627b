package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/depsolve"
	"github.com/osbuild-vm/osbuild-vm/images/debian/mpp"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
)

const depsolveUsage = `usage: osbuild-vm depsolve [flags] MANIFEST > PINNED

Resolve every mpp-depsolve-deb directive of a manifest (- reads standard
input) against the signed Debian archive and print the pinned manifest:
each directive replaced by the .debs' checksums in install order, and an
org.osbuild.curl source for each. Verified indices are cached in the store.

flags:
  --arch ARCH      architecture for directives that name none (default: the host's)
  --mirror URL     Debian mirror (default $OSBUILD_VM_MIRROR, else apt's configuration)
  --store DIR      store whose debian-archive/ caches the indices (default .osbuild)
  --refresh        fetch InRelease even if the cached one is recent
`

// indexMaxAge is how long a cached InRelease stands for the archive.
const indexMaxAge = time.Hour

// archiveKeyring and archiveClock verify the archive: nil means Debian's
// keys and the real clock. Tests replace them to serve a fake archive.
var (
	archiveKeyring openpgp.EntityList
	archiveClock   func() time.Time
)

// depsolveOptions are the flags of depsolve, also the part of run's
// options that resolution needs.
type depsolveOptions struct {
	arch, mirror, store string
	refresh             bool
}

// depsolveCmd implements `osbuild-vm depsolve`.
func depsolveCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o := depsolveOptions{arch: runtime.GOARCH, store: ".osbuild"}
	fs := flag.NewFlagSet("depsolve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.arch, "arch", o.arch, "")
	fs.StringVar(&o.mirror, "mirror", "", "")
	fs.StringVar(&o.store, "store", o.store, "")
	fs.BoolVar(&o.refresh, "refresh", false, "")
	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, depsolveUsage)
		return nil
	}
	if err != nil {
		return exitf(ExitInvalid, "depsolve: %v (see osbuild-vm depsolve -h)", err)
	}
	if len(positional) != 1 {
		return exitf(ExitInvalid, "depsolve: expected one MANIFEST argument, got %d (usage: osbuild-vm depsolve [flags] MANIFEST)", len(positional))
	}
	if !archive.ValidPackageName(o.arch) {
		return exitf(ExitInvalid, "depsolve: --arch: %q is not an architecture name; use amd64 or arm64", o.arch)
	}
	data, err := readManifest(positional[0], stdin)
	if err != nil {
		return exitf(ExitInvalid, "depsolve: %v", err)
	}
	out, reqs, err := pinManifest(ctx, data, o, stderr)
	if err != nil {
		return prefixExit("depsolve", err)
	}
	if len(reqs) == 0 {
		fmt.Fprintf(stderr, "depsolve: %s has no %s directive; printing it unchanged\n", positional[0], mpp.Directive)
	}
	_, err = stdout.Write(out)
	return err
}

// pinManifest resolves the manifest's directives (none: data comes back
// as it is). Its errors are *ExitError: 2 for the request, 1 for the
// archive, the mirror or the network.
func pinManifest(ctx context.Context, data []byte, o depsolveOptions, stderr io.Writer) ([]byte, []*mpp.Request, error) {
	out, reqs, err := mpp.Pin(ctx, data, o.arch, &lazyResolver{o: o, stderr: stderr})
	switch {
	case err == nil:
		return out, reqs, nil
	case mpp.IsRequestError(err) || errors.Is(err, archive.ErrBadMirror):
		return nil, nil, &ExitError{Code: ExitInvalid, Err: err}
	}
	return nil, nil, &ExitError{Code: ExitFailed, Err: err}
}

// lazyResolver finds the mirror only when a manifest has a request, so
// that manifests without one never need it.
type lazyResolver struct {
	o      depsolveOptions
	stderr io.Writer
	r      *mpp.ArchiveResolver
}

func (l *lazyResolver) Resolve(ctx context.Context, req *mpp.Request, arch string) (*depsolve.Result, error) {
	if err := l.init(); err != nil {
		return nil, err
	}
	return l.r.Resolve(ctx, req, arch)
}

func (l *lazyResolver) MirrorURL(context.Context) (string, error) {
	if err := l.init(); err != nil {
		return "", err
	}
	return l.r.Mirror, nil
}

func (l *lazyResolver) init() error {
	if l.r == nil {
		mirror, err := archive.ResolveMirror(l.o.mirror)
		if err != nil {
			return err
		}
		cache := &archive.IndexCache{Dir: filepath.Join(l.o.store, archive.StoreDir), MaxAge: indexMaxAge}
		if l.o.refresh {
			cache.MaxAge = 0
		}
		l.r = &mpp.ArchiveResolver{Mirror: mirror, Cache: cache, Keyring: archiveKeyring, Now: archiveClock,
			Log: func(format string, args ...any) { fmt.Fprintf(l.stderr, "depsolve: "+format+"\n", args...) }}
	}
	return nil
}

// prefixExit puts "cmd: " before an *ExitError's message.
func prefixExit(cmd string, err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return &ExitError{Code: ee.Code, Err: fmt.Errorf("%s: %w", cmd, ee.Err)}
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// PinnedManifestName is the file run writes the pinned manifest to, in
// the output directory.
const PinnedManifestName = "manifest.pinned.json"

// resolveForRun pins a manifest with directives before run validates it,
// and keeps the pinned manifest in the output directory so that the build
// can be repeated exactly.
func resolveForRun(ctx context.Context, opts *runOptions, data []byte, stderr io.Writer) ([]byte, error) {
	out, reqs, err := pinManifest(ctx, data, depsolveOptions{arch: opts.Arch, mirror: opts.Mirror, store: opts.Store, refresh: opts.Refresh}, stderr)
	if errors.Is(err, mpp.ErrManifestSyntax) {
		return data, nil // validation reports it, as for any manifest
	}
	if err != nil {
		return nil, prefixExit("run", err)
	}
	if len(reqs) == 0 {
		return data, nil
	}
	if opts.OutputDirectory == "" {
		fmt.Fprintf(stderr, "run: resolved %d package request(s); without --output-directory the pinned manifest is not written anywhere\n", len(reqs))
		return out, nil
	}
	path := filepath.Join(opts.OutputDirectory, PinnedManifestName)
	if err := writeFileDurably(path, out); err != nil {
		return nil, exitf(ExitFailed, "run: write pinned manifest: %v", err)
	}
	fmt.Fprintf(stderr, "run: resolved %d package request(s); pinned manifest: %s\n", len(reqs), path)
	return out, nil
}

// writeFileDurably writes data to path through a synced temporary file.
func writeFileDurably(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return durable.Commit(f, path)
}
