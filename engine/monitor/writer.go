package monitor

import (
	"fmt"
	"io"
)

// stickyWriter remembers the first error writing to w and drops every
// later write: a monitor whose output is gone (a closed pipe, a full
// disk, a bad --monitor-fd) says so once, through Err, and the run that
// cannot report its progress fails instead of pretending it did.
// Monitors call it under their own lock.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.err = fmt.Errorf("write monitor output: %w", err)
	}
	return n, s.err
}
