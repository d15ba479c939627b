// Package proc starts the host's helper processes (QEMU, virtiofsd) so that
// they never outlive osbuild-vm: each runs in its own process group, gets
// SIGKILL when osbuild-vm dies (Pdeathsig), is asked to stop with SIGTERM
// when its context ends and is killed after a grace period.
//
// Pdeathsig is tied to the OS thread that forked the child, not to the
// process: Go may retire a thread whose goroutine exits while locked. Start
// therefore forks from a goroutine that keeps its thread locked until the
// child has been reaped, so the signal fires only when osbuild-vm itself
// dies.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long a process may take to exit after SIGTERM before
// it is killed.
const DefaultGrace = 3 * time.Second

// Process is a started child. Wait may be called from several goroutines.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// Command prepares name with args for Start: ctx ending sends SIGTERM to the
// process group, and grace later SIGKILL (0 means DefaultGrace).
func Command(ctx context.Context, grace time.Duration, name string, args ...string) *exec.Cmd {
	if grace <= 0 {
		grace = DefaultGrace
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return signalGroup(cmd, syscall.SIGTERM) }
	cmd.WaitDelay = grace
	return cmd
}

// Start starts cmd (made by Command, or any exec.Cmd whose SysProcAttr it
// may amend) from a locked OS thread and reaps it in the background.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &Process{Name: cmd.Path, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		// Whatever the leader did, leave nothing of its group behind.
		signalGroup(cmd, syscall.SIGKILL)
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return p, nil
}

// Pid is the process's id, also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns how it ended.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, waits up to grace, then kills
// the group and waits for the reaper. It returns nil when the process is
// gone, whatever its exit status.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	signalGroup(p.cmd, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	return p.Kill()
}

// Kill kills the process group at once and waits for the reaper.
func (p *Process) Kill() error {
	if err := signalGroup(p.cmd, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	<-p.done
	return nil
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
