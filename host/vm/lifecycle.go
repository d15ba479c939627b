package vm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/qemu"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// Grace periods of Shutdown's steps. The agent syncs and powers off in
// milliseconds; ACPI under TCG can take a second or two.
const (
	agentShutdownGrace = 10 * time.Second
	powerdownGrace     = 5 * time.Second
)

// ErrKilled: the VM did not power off and had to be killed.
var ErrKilled = errors.New("vm killed")

// Client is the session with the guest agent.
func (v *VM) Client() *jsoncomm.Client { return v.client }

// Arch is the guest's architecture.
func (v *VM) Arch() string { return v.cfg.Arch }

// Accel is the accelerator QEMU runs with.
func (v *VM) Accel() string { return string(v.accel) }

// Shutdown stops the VM politely: the agent's shutdown call, then the
// virtual power button, then a kill; then Close. It returns nil when the
// guest powered off by itself, ErrKilled (joined with what went wrong)
// when it had to be killed.
func (v *VM) Shutdown(ctx context.Context) error {
	errAgent := v.askAgent(ctx)
	if v.exitedWithin(ctx, agentShutdownGrace) {
		return v.Close()
	}
	errPower := v.pressPower(ctx)
	if v.exitedWithin(ctx, powerdownGrace) {
		return errors.Join(errAgent, v.Close())
	}
	return errors.Join(fmt.Errorf("shut down vm: %w", ErrKilled), errAgent, errPower, v.Close())
}

func (v *VM) askAgent(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, agentShutdownGrace)
	defer cancel()
	err := v.client.Call(ctx, jsoncomm.MethodShutdown, jsoncomm.Empty{}, nil, nil)
	if errors.Is(err, jsoncomm.ErrClosed) && v.qemu.Exited() {
		return nil // powered off before the reply reached us
	}
	if err != nil {
		return fmt.Errorf("shut down vm: agent: %w", err)
	}
	return nil
}

func (v *VM) pressPower(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	mon, err := v.monitor(ctx)
	if err != nil {
		return fmt.Errorf("shut down vm: %w", err)
	}
	return mon.Powerdown(ctx)
}

// exitedWithin waits up to d (or ctx) for QEMU to exit.
func (v *VM) exitedWithin(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-v.qemu.Done():
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return v.qemu.Exited()
}

// monitor connects to QMP once, on first use.
func (v *VM) monitor(ctx context.Context) (*qemu.Monitor, error) {
	v.monOnce.Do(func() {
		v.mon, v.monErr = qemu.DialQMP(ctx, v.path("qmp.sock"))
		if v.monErr == nil {
			v.cleanup.push(func(context.Context) error { return v.mon.Close() })
		}
	})
	return v.mon, v.monErr
}

// Status is QEMU's run state as QMP reports it ("running", ...).
func (v *VM) Status(ctx context.Context) (string, error) {
	if v.qemu.Exited() {
		return "exited", nil
	}
	mon, err := v.monitor(ctx)
	if err != nil {
		return "", err
	}
	return mon.Status(ctx)
}

// Wait waits for QEMU to exit and says how: nil for a guest power-off.
// It may be called from several goroutines.
func (v *VM) Wait() error {
	<-v.exited // Timings are complete when Wait returns
	if err := v.qemu.Wait(); err != nil {
		return fmt.Errorf("vm: qemu: %w", err)
	}
	return nil
}

// Done is closed when QEMU has exited and Timings.Exited is set.
func (v *VM) Done() <-chan struct{} { return v.exited }

// Close kills whatever still runs and removes the temporary directory.
// It is idempotent and returns the same result each time.
func (v *VM) Close() error {
	return v.cleanup.run(context.Background())
}

// ConsoleTail returns the last n lines of the guest's console, also after
// Close.
func (v *VM) ConsoleTail(n int) string {
	if v.console == nil {
		return ""
	}
	return v.console.Tail(n)
}

// Timings returns the phases' durations so far.
func (v *VM) Timings() Timings {
	v.tmu.Lock()
	defer v.tmu.Unlock()
	return v.timings
}
