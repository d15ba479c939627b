package runner

import "sync"

// The runner keeps one spare setup process, started while the previous
// stage runs: its namespaces exist and its Go runtime is up when the next
// stage.run arrives, which then costs no process start on its critical
// path. A spare holds nothing of any stage until it gets its spec.
//
// The spare's mount namespace is a copy of the agent's taken when it was
// started. That is the same view a stage started later would get because
// the agent mounts nothing after boot: trees and call directories are
// plain directories on the work tmpfs, which the copy shares.
//
// A spare never outlives the runner: Close ends it, and should the agent
// die, the end of the spec pipe ends the spare.
type spares struct {
	mu      sync.Mutex
	pending chan started // the spare, once started; nil when there is none
	closed  bool
}

// started is the outcome of starting a spare.
type started struct {
	sp  *setupProc
	err error
}

// take returns the spare, waiting for it if it is still starting, or a
// freshly started setup process when there is none; then it starts the
// next spare in the background.
func (r *Runner) take() (*setupProc, error) {
	s := &r.spares
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	r.refill()
	if pending != nil {
		if res := <-pending; res.err == nil {
			return res.sp, nil
		}
	}
	return r.spawn()
}

// refill starts a spare in the background unless there is one or the
// runner is closed. A spare that cannot start is not an error here: take
// then starts one itself and reports why it failed.
func (r *Runner) refill() {
	s := &r.spares
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.pending != nil {
		return
	}
	pending := make(chan started, 1)
	s.pending = pending
	go func() {
		sp, err := r.spawn()
		pending <- started{sp, err}
	}()
}

// Close ends the spare setup process and keeps the runner from starting
// more. Stages may still run afterwards, each starting its own process.
func (r *Runner) Close() error {
	s := &r.spares
	s.mu.Lock()
	s.closed = true
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	if pending != nil {
		if res := <-pending; res.err == nil {
			res.sp.discard()
		}
	}
	return nil
}
