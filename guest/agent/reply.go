package agent

import (
	"io"
	"sync"
	"time"
)

// replyWait bounds how long the agent waits for the shutdown reply to be
// written before it powers off anyway.
const replyWait = 2 * time.Second

// flushWatch wraps the channel so that the shutdown path can wait until the
// shutdown call's reply has been written. jsoncomm.Server writes a reply
// after its handler returns, in one Write; once armed (by the shutdown
// handler, before it returns), the next completed Write is that reply,
// unless another call's output races it, which at worst powers off a little
// early on a host that shut down with calls in flight.
type flushWatch struct {
	io.ReadWriteCloser
	mu      sync.Mutex
	armed   bool
	fired   bool
	written chan struct{}
}

func newFlushWatch(rw io.ReadWriteCloser) *flushWatch {
	return &flushWatch{ReadWriteCloser: rw, written: make(chan struct{})}
}

func (w *flushWatch) Write(p []byte) (int, error) {
	n, err := w.ReadWriteCloser.Write(p)
	w.mu.Lock()
	if w.armed && !w.fired {
		w.fired = true
		close(w.written)
	}
	w.mu.Unlock()
	return n, err
}

// arm makes the next Write end wait; arming again is harmless.
func (w *flushWatch) arm() {
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
}

// wait returns once an armed Write has completed, or after replyWait.
func (w *flushWatch) wait() {
	select {
	case <-w.written:
	case <-time.After(replyWait):
	}
}
