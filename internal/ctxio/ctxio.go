// Package ctxio makes long CPU-bound reads (decompressing a Packages index
// or a kernel .deb in Go takes seconds) stop when their context ends, so
// Ctrl-C does not wait for them.
package ctxio

import (
	"context"
	"io"
)

// Reader returns r, failing with ctx's error once ctx is done.
func Reader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c *reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
