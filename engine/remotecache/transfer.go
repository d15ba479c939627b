package remotecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// verifier passes on the bytes of a blob described by desc and fails,
// with ErrRefused, as soon as more arrive than desc.Size, or at the end
// when fewer arrived or their sha256 is not desc.Digest. An error of the
// underlying reader (a cut connection) is passed on as it is.
type verifier struct {
	r    io.Reader // limited to desc.Size+1 bytes
	desc ocispec.Descriptor
	h    hash.Hash
	n    int64
}

func newVerifier(r io.Reader, desc ocispec.Descriptor) *verifier {
	return &verifier{r: io.LimitReader(r, desc.Size+1), desc: desc, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if v.n+int64(n) > v.desc.Size {
		return 0, refusef("blob %s: more than the %d bytes its descriptor says", v.desc.Digest, v.desc.Size)
	}
	v.n += int64(n)
	v.h.Write(p[:n])
	if err == io.EOF {
		err = v.check()
		if err == nil {
			err = io.EOF
		}
	}
	return n, err
}

// check compares what arrived with the descriptor, at the end.
func (v *verifier) check() error {
	if v.n != v.desc.Size {
		return refusef("blob %s: %d bytes, its descriptor says %d", v.desc.Digest, v.n, v.desc.Size)
	}
	if got := digest.NewDigest(digest.SHA256, v.h); got != v.desc.Digest {
		return refusef("blob %.19s…: its bytes have %.19s…", v.desc.Digest, got)
	}
	return nil
}

// readBlob reads a small blob whole, verified against desc.
func readBlob(r io.Reader, desc ocispec.Descriptor) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, newVerifier(r, desc)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrStalled reports a transfer abandoned because nothing moved for the
// cache's idle timeout.
var ErrStalled = errors.New("transfer stalled")

// watchdog cancels a transfer's context when nothing moved for idle:
// each read of the transfer's data (down or up) calls alive.
type watchdog struct {
	t    *time.Timer
	idle time.Duration
}

// watch returns a context for one transfer that is cancelled with
// ErrStalled once idle passes without a call of the watchdog's alive,
// and a stop function that must be called when the transfer ends.
func watch(ctx context.Context, idle time.Duration) (context.Context, *watchdog, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{idle: idle}
	w.t = time.AfterFunc(idle, func() { cancel(fmt.Errorf("%w: nothing moved for %v", ErrStalled, idle)) })
	return ctx, w, func() { w.t.Stop(); cancel(nil) }
}

func (w *watchdog) alive() { w.t.Reset(w.idle) }

// reader wraps r so that every read keeps the watchdog from firing.
func (w *watchdog) reader(r io.Reader) io.Reader { return &aliveReader{r: r, w: w} }

type aliveReader struct {
	r io.Reader
	w *watchdog
}

func (a *aliveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.w.alive()
	return n, err
}

// stalled returns the watchdog's error in place of err when the
// transfer's context was cancelled by it.
func stalled(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrStalled) {
		return cause
	}
	return err
}
