package vm

import (
	"context"
	"errors"
	"sync"
	"time"
)

// cleanupTimeout bounds the whole teardown; each step bounds itself too.
const cleanupTimeout = 15 * time.Second

// cleanups is a stack of teardown steps run once, in reverse order, with
// every error kept.
type cleanups struct {
	mu    sync.Mutex
	steps []func(context.Context) error
	once  sync.Once
	err   error
}

// push adds a step; steps run last-pushed first.
func (c *cleanups) push(f func(context.Context) error) {
	c.mu.Lock()
	c.steps = append(c.steps, f)
	c.mu.Unlock()
}

// run runs the steps once, under a context that ignores the caller's
// cancellation (teardown must finish when the run was interrupted) but has
// its own deadline.
func (c *cleanups) run(ctx context.Context) error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		c.mu.Lock()
		steps := c.steps
		c.steps = nil
		c.mu.Unlock()
		var errs []error
		for i := len(steps) - 1; i >= 0; i-- {
			errs = append(errs, steps[i](ctx))
		}
		c.err = errors.Join(errs...)
	})
	return c.err
}
