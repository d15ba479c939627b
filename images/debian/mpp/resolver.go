package mpp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/depsolve"
)

// ArchiveResolver resolves directives against one mirror, reading each
// suite's indices once (and through Cache across runs).
type ArchiveResolver struct {
	// Mirror is the archive root URL (see archive.ResolveMirror).
	Mirror string
	// Cache keeps verified indices between runs; nil keeps nothing.
	Cache *archive.IndexCache
	// Keyring, Client and Now go to archive.Archive (nil: its defaults).
	Keyring openpgp.EntityList
	Client  *http.Client
	Now     func() time.Time
	// Log receives one line per download or resolution; nil discards.
	Log func(format string, args ...any)

	mu        sync.Mutex
	archives  map[string]*archive.Archive
	universes map[string]*depsolve.Universe
}

// Resolve implements Resolver.
func (r *ArchiveResolver) Resolve(ctx context.Context, req *Request, arch string) (*depsolve.Result, error) {
	u, err := r.universe(ctx, req.Suite, req.Components, arch)
	if err != nil {
		return nil, err
	}
	res, err := u.Resolve(req.Request)
	if err != nil {
		return nil, err
	}
	r.logf("%s: %s %s/%s: %d packages (%d essential)", req.Path, variantName(req.Variant), req.Suite, arch, len(res.Packages), res.Essential)
	return res, nil
}

func variantName(v depsolve.Variant) string {
	if v == "" {
		return string(depsolve.VariantNone)
	}
	return string(v)
}

func (r *ArchiveResolver) universe(ctx context.Context, suite string, components []string, arch string) (*depsolve.Universe, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := suite + "\n" + strings.Join(components, " ") + "\n" + arch
	if u, ok := r.universes[key]; ok {
		return u, nil
	}
	if r.archives == nil {
		r.archives, r.universes = map[string]*archive.Archive{}, map[string]*depsolve.Universe{}
	}
	a, ok := r.archives[suite]
	if !ok {
		a = &archive.Archive{Mirror: r.Mirror, Suite: suite, Keyring: r.Keyring, Client: r.Client, Now: r.Now, Cache: r.Cache, Log: r.Log}
		r.archives[suite] = a
	}
	rel, err := a.Release(ctx)
	var he *archive.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return nil, fmt.Errorf("suite %s: %w: the mirror has no dists/%s/InRelease (HTTP 404); check the suite name", suite, depsolve.ErrBadRequest, suite)
	}
	if err != nil {
		return nil, err
	}
	if err := checkRelease(rel, suite, components, arch); err != nil {
		return nil, err
	}
	u, err := depsolve.Load(ctx, a, components, arch)
	if err != nil {
		return nil, err
	}
	r.universes[key] = u
	return u, nil
}

// checkRelease refuses architectures and components the suite lacks, as
// mistakes in the request.
func checkRelease(rel *archive.Release, suite string, components []string, arch string) error {
	if !rel.HasArch(arch) {
		return fmt.Errorf("suite %s: %w: no architecture %q (it has %s)", suite, depsolve.ErrBadRequest, arch, strings.Join(rel.Architectures, ", "))
	}
	for _, c := range components {
		if !slices.Contains(rel.Components, c) {
			return fmt.Errorf("suite %s: %w: no component %q (it has %s)", suite, depsolve.ErrBadRequest, c, strings.Join(rel.Components, ", "))
		}
	}
	return nil
}

func (r *ArchiveResolver) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

// MirrorURL is the mirror the packages come from.
func (r *ArchiveResolver) MirrorURL(context.Context) (string, error) { return r.Mirror, nil }
