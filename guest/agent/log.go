package agent

import (
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logger writes timestamped lines to the console. Phases are printed only
// in debug mode; errors always, since the console is all the host has when
// the channel never comes up.
type logger struct {
	mu    sync.Mutex
	w     io.Writer
	debug bool
}

// started is when this process's Go code began to run, for the boot
// timeline: the gap to the kernel's "Run /init" line is exec plus Go
// runtime start-up.
var started = uptime()

// uptime is the time since the kernel started, the clock the kernel's own
// console lines use, so that agent and kernel lines read as one timeline.
func uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%12.6f] %s: %s\n", uptime().Seconds(), WorkerName, fmt.Sprintf(format, args...))
}

// phase logs a boot phase in debug mode.
func (l *logger) phase(format string, args ...any) {
	if l.debug {
		l.printf(format, args...)
	}
}

// errorf logs an error whatever the mode.
func (l *logger) errorf(format string, args ...any) { l.printf(format, args...) }
