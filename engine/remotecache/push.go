package remotecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// Push uploads object id of st (checked against its digest first, as any
// use of an object is) as its artifact, tagged id. Blobs the registry
// already has are not uploaded again, and an artifact already tagged id
// with the same bytes is left as it is (Present): runners that push the
// same object, even at once, push identical artifacts.
func (c *Cache) Push(ctx context.Context, st *store.Store, id string) (Transfer, error) {
	t := Transfer{ID: id}
	if err := store.ValidateID(id); err != nil {
		return t, fmt.Errorf("push: %w", err)
	}
	var err error
	for attempt := 0; attempt < pushAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, time.Duration(attempt)*200*time.Millisecond); err != nil {
				break
			}
		}
		t = Transfer{ID: id}
		if err = c.push(ctx, st, &t); !racing(err) {
			break
		}
	}
	if err != nil {
		return t, fmt.Errorf("push %s to %s: %w", id, c.ref, err)
	}
	return t, nil
}

// pushAttempts bounds how often a push is tried when the registry's own
// state was in flux (racing).
const pushAttempts = 3

// racing says whether a push failed on the registry's view of blobs that
// another push of the same object was writing at the same moment: the
// distribution registry's filesystem storage writes a repository's blob
// links in place, so a concurrent reader may see one half-written and
// call the blob unknown or its digest invalid. A push is idempotent, so
// it is simply tried again.
func racing(err error) bool {
	var resp *errcode.ErrorResponse
	if !errors.As(err, &resp) || resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
		return false
	}
	for _, e := range resp.Errors {
		switch e.Code {
		case errcode.ErrorCodeManifestBlobUnknown, errcode.ErrorCodeBlobUnknown, errcode.ErrorCodeDigestInvalid,
			errcode.ErrorCodeBlobUploadUnknown, errcode.ErrorCodeBlobUploadInvalid:
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Cache) push(ctx context.Context, st *store.Store, t *Transfer) error {
	o, err := st.Tree(t.ID)
	if err != nil {
		return err
	}
	meta, err := o.Meta()
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.TreePath())
	if err != nil {
		return err
	}
	a, err := encode(t.ID, o.SHA256, fi.Size(), meta)
	if err != nil {
		return err
	}
	if desc, err := c.repo.Resolve(ctx, t.ID); err == nil && desc.Digest == a.manifestDesc.Digest {
		t.Present = true
		return nil
	} else if err != nil && !errors.Is(c.classify(err), ErrNotFound) {
		return c.classify(err)
	}
	open := func() (io.ReadCloser, error) {
		return os.OpenFile(o.TreePath(), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if err := c.pushBlob(ctx, a.treeDesc, open, t); err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	config := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(a.config)), nil }
	if err := c.pushBlob(ctx, a.configDesc, config, t); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.repo.PushReference(ctx, a.manifestDesc, bytes.NewReader(a.manifest), t.ID); err != nil {
		return fmt.Errorf("manifest: %w", c.classify(err))
	}
	t.Bytes += a.manifestDesc.Size
	return nil
}

// pushBlob uploads a blob unless the registry has it. The registry checks
// the digest of what it receives.
func (c *Cache) pushBlob(ctx context.Context, desc ocispec.Descriptor, open func() (io.ReadCloser, error), t *Transfer) error {
	ok, err := c.repo.Blobs().Exists(ctx, desc)
	if err != nil {
		return c.classify(err)
	}
	if ok {
		return nil
	}
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	ctx, dog, stop := watch(ctx, c.idle)
	defer stop()
	if err := c.repo.Blobs().Push(ctx, desc, dog.reader(r)); err != nil {
		return c.classify(stalled(ctx, err))
	}
	t.Bytes += desc.Size
	return nil
}
