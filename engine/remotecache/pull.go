package remotecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// Transfer says what one push or pull moved.
type Transfer struct {
	ID string
	// Bytes is what went over the network: manifest, config and tree
	// (a push leaves out blobs the registry already had).
	Bytes int64
	// Present, for a push, says that the registry already had the
	// artifact, byte for byte: nothing was uploaded.
	Present bool
}

// Pull fetches object id from the cache and imports it into st through
// the store's commit path: a pending object whose tree the store writes
// and hashes, committed only when that digest is the artifact's. The
// object is then in st as if this run had committed it (floating when
// st's size limit keeps it out of the cache). Errors: ErrNotFound (a
// miss), ErrRefused (an artifact that is not what it claims; nothing is
// imported), ErrDenied, ErrStalled, or the registry's or store's own.
func (c *Cache) Pull(ctx context.Context, st *store.Store, id string) (Transfer, error) {
	t := Transfer{ID: id}
	if err := store.ValidateID(id); err != nil {
		return t, fmt.Errorf("pull: %w", err)
	}
	err := c.pull(ctx, st, &t)
	if err != nil {
		return t, fmt.Errorf("pull %s from %s: %w", id, c.ref, err)
	}
	return t, nil
}

func (c *Cache) pull(ctx context.Context, st *store.Store, t *Transfer) error {
	mdata, err := c.fetchManifest(ctx, t.ID)
	if err != nil {
		return err
	}
	t.Bytes += int64(len(mdata))
	configDesc, treeDesc, err := decodeManifest(t.ID, mdata)
	if err != nil {
		return err
	}
	cdata, err := c.fetchBlob(ctx, configDesc)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	t.Bytes += int64(len(cdata))
	config, err := decodeConfig(t.ID, cdata, treeDesc)
	if err != nil {
		return err
	}
	n, err := c.importTree(ctx, st, t.ID, treeDesc, config.Meta)
	t.Bytes += n
	return err
}

// fetchManifest fetches the manifest tagged id, bounded and verified
// against the digest the registry gives for it.
func (c *Cache) fetchManifest(ctx context.Context, id string) ([]byte, error) {
	ctx, dog, stop := watch(ctx, c.idle)
	defer stop()
	desc, rc, err := c.repo.FetchReference(ctx, id)
	if err != nil {
		return nil, c.classify(stalled(ctx, err))
	}
	defer rc.Close()
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, refusef("manifest media type %.100q, want %s", desc.MediaType, ocispec.MediaTypeImageManifest)
	}
	if desc.Size < 0 || desc.Size > MaxManifestSize {
		return nil, refusef("manifest of %d bytes (limit %d)", desc.Size, MaxManifestSize)
	}
	data, err := readBlob(dog.reader(rc), desc)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", stalled(ctx, err))
	}
	return data, nil
}

// fetchBlob fetches a small blob whole, bounded by its checked
// descriptor and verified.
func (c *Cache) fetchBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	ctx, dog, stop := watch(ctx, c.idle)
	defer stop()
	rc, err := c.repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return nil, c.blobError(ctx, err)
	}
	defer rc.Close()
	data, err := readBlob(dog.reader(rc), desc)
	return data, stalled(ctx, err)
}

// importTree streams the tree blob into a new pending object of st,
// verified on the way, and commits it only when the store's own digest
// of what it wrote is the descriptor's. It returns the bytes received.
func (c *Cache) importTree(ctx context.Context, st *store.Store, id string, desc ocispec.Descriptor, meta map[string]json.RawMessage) (int64, error) {
	p, err := st.NewObject(id)
	if err != nil {
		return 0, err
	}
	var n int64
	err = p.WriteTree(func(w io.Writer) error {
		n, err = c.streamBlob(ctx, desc, w)
		return err
	})
	if err == nil && p.SHA256() != desc.Digest.Encoded() {
		err = refusef("tree: the store wrote sha256 %.12s…, the artifact names %.12s…", p.SHA256(), desc.Digest.Encoded())
	}
	if err != nil {
		return n, errors.Join(fmt.Errorf("tree: %w", err), p.Abort())
	}
	_, err = p.Commit(meta)
	return n, err
}

// streamBlob copies a blob to w, verified against desc.
func (c *Cache) streamBlob(ctx context.Context, desc ocispec.Descriptor, w io.Writer) (int64, error) {
	ctx, dog, stop := watch(ctx, c.idle)
	defer stop()
	rc, err := c.repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return 0, c.blobError(ctx, err)
	}
	defer rc.Close()
	n, err := io.CopyBuffer(w, newVerifier(dog.reader(rc), desc), make([]byte, 1<<20))
	return n, stalled(ctx, err)
}

// blobError classifies a failed blob request. The client library checks
// the registry's answer against the descriptor (Content-Length, the
// digest header) before handing out the body: an answer that contradicts
// the artifact's own descriptor, or a blob the artifact names but the
// registry lacks, is a refusal like a body that does not match.
func (c *Cache) blobError(ctx context.Context, err error) error {
	err = stalled(ctx, err)
	var urlErr *url.Error
	var resp *errcode.ErrorResponse
	switch {
	case errors.Is(err, ErrStalled) || ctx.Err() != nil || errors.As(err, &urlErr):
		return err
	case errors.As(err, &resp):
		return c.classify(err)
	case errors.Is(err, errdef.ErrNotFound):
		return refusef("the blob it names is missing: %v", err)
	}
	return refusef("%v", err)
}
