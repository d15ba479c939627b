package agent

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/sys/unix"
)

// Init is PID 1 (see the package doc): it mounts the kernel file systems,
// starts the worker, reaps every process until the worker ends, then syncs
// and powers the VM off. It returns only if power-off itself fails; the
// caller then exits, which the kernel turns into a panic the host sees.
func Init() int {
	l := &logger{w: os.Stderr}
	defer func() {
		if r := recover(); r != nil {
			l.errorf("init: panic: %v", r)
			powerOff(l)
		}
	}()
	ignoreSignals(l)
	if err := mountKernelFS(); err != nil {
		l.errorf("init: %v", err)
		return powerOff(l)
	}
	l.debug = debugRequested()
	l.phase("init: started at %.3fs, kernel file systems mounted", started.Seconds())
	worker, err := startWorker()
	if err != nil {
		l.errorf("init: %v", err)
		return powerOff(l)
	}
	reap(l, worker)
	return powerOff(l)
}

// ignoreSignals keeps PID 1 alive through the signals whose Go default is
// to exit (the kernel only shields PID 1 from signals it has no handler
// for, and the Go runtime installs handlers). It catches rather than
// ignores them: an ignored disposition would pass to the worker through
// exec, and from there to every stage.
func ignoreSignals(l *logger) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE)
	go func() {
		for sig := range ch {
			l.phase("init: ignoring %v", sig)
		}
	}()
}

// debugRequested peeks at the command line for the debug key only; the
// worker parses it properly and reports errors.
func debugRequested() bool {
	raw, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return false
	}
	cfg, err := ParseCmdline(string(raw))
	return err == nil && cfg.Debug
}

// startWorker starts this binary again as the worker, on the console.
// os.StartProcess, not os/exec: PID 1 collects the worker with its own
// Wait4 loop, never with Process.Wait.
func startWorker() (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("start worker: %w", err)
	}
	env := os.Environ()
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	}
	p, err := os.StartProcess(self, []string{WorkerName}, &os.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return 0, fmt.Errorf("start worker %s: %w", self, err)
	}
	return p.Pid, nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// reap collects every child that ends, orphans included, until worker
// ends. It blocks in wait4; there is nothing else for PID 1 to do.
func reap(l *logger, worker int) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			l.errorf("init: wait: %v", err)
			return
		}
		if pid == worker {
			logWorkerEnd(l, ws)
			return
		}
	}
}

func logWorkerEnd(l *logger, ws unix.WaitStatus) {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		l.phase("init: worker done")
	case ws.Exited():
		l.errorf("init: worker exited with status %d", ws.ExitStatus())
	default:
		l.errorf("init: worker killed by %v", ws.Signal())
	}
}

// powerOff syncs and powers the VM off. It returns (with 1) only when the
// kernel refused.
func powerOff(l *logger) int {
	unix.Sync()
	l.phase("init: power off")
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	l.errorf("init: power off: %v", err)
	return 1
}
