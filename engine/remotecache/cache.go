package remotecache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Options configure a Cache. The zero value speaks HTTPS, takes
// credentials from the Docker configuration file and gives up on a
// transfer that stalls for DefaultIdleTimeout.
type Options struct {
	// PlainHTTP speaks plain HTTP to the registry (--remote-cache-plain-http):
	// only for a registry on a trusted network or this machine.
	PlainHTTP bool
	// DockerConfig is the Docker configuration file holding credentials;
	// "" means $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
	DockerConfig string
	// IdleTimeout is how long a transfer may go without moving a byte
	// before it is abandoned; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// DefaultIdleTimeout bounds a stalled transfer: a registry that stops
// answering costs a run a minute, not forever.
const DefaultIdleTimeout = time.Minute

// Cache is a remote cache: one repository of a registry. Its methods are
// safe for concurrent use.
type Cache struct {
	ref  string
	repo *remote.Repository
	idle time.Duration
}

// Errors a caller branches on. Anything else (the registry unreachable,
// a transfer cut off, the local store failing) is a failure of the remote
// cache as a whole.
var (
	// ErrNotFound is a miss: the repository has no artifact for the ID.
	ErrNotFound = errors.New("not in the remote cache")
	// ErrDenied is the registry refusing our credentials (HTTP 401/403).
	ErrDenied = errors.New("access denied")
)

// ParseRef checks a remote-cache reference: HOST[:PORT]/REPOSITORY, as
// registry.example/ci/osbuild-cache, with no tag or digest (the objects'
// IDs are the tags).
func ParseRef(ref string) (registry.Reference, error) {
	r, err := registry.ParseReference(ref)
	if err == nil && r.Reference != "" {
		err = errors.New("it names a tag or digest; objects are tagged by their IDs")
	}
	if err == nil && strings.ContainsAny(r.Registry, "/@") {
		err = errors.New("invalid registry host")
	}
	if err != nil {
		return r, fmt.Errorf("remote cache %.200q: %w; use HOST[:PORT]/REPOSITORY", ref, err)
	}
	return r, nil
}

// Open returns the cache at ref (HOST[:PORT]/REPOSITORY). It reads the
// Docker configuration file but does not contact the registry.
func Open(ref string, opts Options) (*Cache, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	creds, err := credentialStore(opts.DockerConfig)
	if err != nil {
		return nil, fmt.Errorf("remote cache %s: credentials: %w", ref, err)
	}
	repo, err := remote.NewRepository(r.String())
	if err != nil {
		return nil, fmt.Errorf("remote cache %s: %w", ref, err)
	}
	repo.PlainHTTP = opts.PlainHTTP
	repo.MaxMetadataBytes = MaxManifestSize
	repo.SkipReferrersGC = true
	repo.Client = &auth.Client{
		Client:     &http.Client{Transport: retry.NewTransport(transport())},
		Header:     http.Header{"User-Agent": {"osbuild-vm"}},
		Credential: credentials.Credential(creds),
		Cache:      auth.NewCache(),
	}
	idle := opts.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	return &Cache{ref: r.String(), repo: repo, idle: idle}, nil
}

// credentialStore reads the Docker configuration file (a missing file is
// no credentials).
func credentialStore(path string) (credentials.Store, error) {
	if path != "" {
		return credentials.NewStore(path, credentials.StoreOptions{})
	}
	return credentials.NewStoreFromDocker(credentials.StoreOptions{})
}

// transport bounds connecting and waiting for a response; a stalled body
// is bounded by the idle watchdog of each transfer.
func transport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 30 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute
	return t
}

// Ref returns the cache's reference, HOST[:PORT]/REPOSITORY.
func (c *Cache) Ref() string { return c.ref }

// Has reports whether the repository holds an artifact tagged id (it does
// not fetch it, so a later pull may still refuse it).
func (c *Cache) Has(ctx context.Context, id string) (bool, error) {
	_, err := c.repo.Resolve(ctx, id)
	if err == nil {
		return true, nil
	}
	if err = c.classify(err); errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("look up %s in %s: %w", id, c.ref, err)
}

// classify maps the client library's errors to ours, keeping the cause.
func (c *Cache) classify(err error) error {
	var resp *errcode.ErrorResponse
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		return c.denied(fmt.Sprintf("HTTP %d", resp.StatusCode))
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return c.denied("no credentials")
	}
	return err
}

// denied is ErrDenied with what to do about it.
func (c *Cache) denied(why string) error {
	host := c.repo.Reference.Registry
	return fmt.Errorf("%w (%s); check the credentials for %s in the Docker configuration "+
		"($DOCKER_CONFIG/config.json, else ~/.docker/config.json, as `docker login %s` writes them)",
		ErrDenied, why, host, host)
}
