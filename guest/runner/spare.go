package runner

import "sync"

// The runner keeps Config.Spares spare setup processes, started while
// earlier stages run: their namespaces exist and their Go runtimes are up
// when the next stage.run arrives, which then costs no process start on
// its critical path. More than one, because under TCG a Go process start
// takes longer than a small stage: starting several at once keeps up with
// a run of small stages. A spare holds nothing of any stage until it gets its spec.
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
	pending []chan started // each spare, once started; oldest first
	closed  bool
}

// started is the outcome of starting a spare.
type started struct {
	sp  *setupProc
	err error
}

// take returns the oldest spare, waiting for it if it is still starting,
// or a freshly started setup process when there is none; then it starts
// the next spares in the background.
func (r *Runner) take() (*setupProc, error) {
	s := &r.spares
	s.mu.Lock()
	var pending chan started
	if len(s.pending) > 0 {
		pending = s.pending[0]
		s.pending = s.pending[1:]
	}
	s.mu.Unlock()
	r.refill()
	if pending != nil {
		if res := <-pending; res.err == nil {
			return res.sp, nil
		}
	}
	return r.spawn()
}

// refill starts spares in the background until there are Config.Spares,
// unless the runner is closed. A spare that cannot start is not an error
// here: take then starts one itself and reports why it failed.
func (r *Runner) refill() {
	s := &r.spares
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.pending) < r.cfg.Spares {
		pending := make(chan started, 1)
		s.pending = append(s.pending, pending)
		go func() {
			sp, err := r.spawn()
			pending <- started{sp, err}
		}()
	}
}

// Close ends the spare setup processes, waits for those still exiting
// after their stage, and keeps the runner from starting more. Stages may still run afterwards, each starting its own process.
func (r *Runner) Close() error {
	s := &r.spares
	s.mu.Lock()
	s.closed = true
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, p := range pending {
		if res := <-p; res.err == nil {
			res.sp.discard()
		}
	}
	r.exiting.Wait()
	return nil
}
