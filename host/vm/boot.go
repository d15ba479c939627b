package vm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/accel"
	"github.com/osbuild-vm/osbuild-vm/host/qemu"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// consoleLines is how much of the console a boot error quotes.
const consoleLines = 30

// HostAgent is the name the host gives in its hello.
const HostAgent = "osbuild-vm-host"

// kernelCmdline is the guest kernel's command line: the console, a panic
// that ends the VM at once (QEMU runs with -no-reboot), and the agent's
// boot contract from jsoncomm.
//
// Under TCG the guest's speculative-execution mitigations protect nothing
// (TCG does not speculate the guest's code) and cost at every syscall, so
// they are turned off; with KVM they stay. So are the boot's costliest
// initcalls that the build VM has no use for (see tcgBootArgs).
func kernelCmdline(c Config, a accel.Accel) string {
	w := []string{"console=" + qemu.ConsoleDevice(c.Arch), "panic=-1", "oops=panic"}
	if a == accel.TCG {
		w = append(w, "mitigations=off")
		w = append(w, tcgBootArgs...)
	}
	if !c.Debug {
		w = append(w, "quiet", "loglevel=3")
	}
	if c.Arch == "amd64" {
		// No legacy keyboard controller to probe: saves a timeout.
		w = append(w, "i8042.noaux", "i8042.nokbd", "i8042.nopnp")
		// A preset delay-loop constant: the second vCPU otherwise
		// calibrates its own under TCG (its quick calibration fails),
		// measured 90 ms -> 15 ms of CPU bring-up. Delays use the TSC,
		// so the value itself only sets the reported BogoMIPS.
		w = append(w, "lpj=10000000")
		// The IO-APIC timer check waits a few jiffies of TSC time for
		// timer interrupts, which QEMU delivers from a thread a loaded
		// host may not run that soon: the guest then panics with "IO-APIC
		// + timer doesn't work!" (seen 3 boots in 20 with 3 VMs and 2 CPU
		// hogs on 2 cores). The timer of a QEMU machine works.
		w = append(w, "no_timer_check")
	}
	w = append(w, channelArg(c))
	for _, s := range c.Shares {
		arg := jsoncomm.CmdlineShare + "=" + s.Tag
		if s.ReadOnly {
			arg += ":ro"
		}
		w = append(w, arg)
	}
	if c.Debug {
		w = append(w, jsoncomm.CmdlineDebug+"=1")
	}
	return strings.Join(append(w, c.Append...), " ")
}

// tcgBootArgs skip kernel init work that dominated the boot under TCG
// (initcall_debug, bookworm 6.1 cloud kernels, both arches), each a few
// hundred ms of emulated CPU for nothing the build VM uses:
//   - cryptomgr.notests: the crypto self-tests (crypto_algapi_init,
//     280-390 ms);
//   - init_kprobe_trace: kprobe event tracing set-up (65-150 ms);
//   - cubictcp_register: CUBIC registers BPF kfuncs, which parses the
//     kernel's whole BTF (40-80 ms); the guest has no network, and TCP on
//     loopback falls back to reno;
//   - crypto_kdf108_init: the SP800-108 KDF self-test (25-45 ms), which
//     cryptomgr.notests does not cover; the KDF itself stays.
//
// Measured (7 interleaved boots each, medians, start to agent ready):
// arm64 2.95 s -> 2.26 s, amd64 3.63 s -> 3.28 s on a loaded host.
var tcgBootArgs = []string{
	"cryptomgr.notests",
	"initcall_blacklist=init_kprobe_trace,cubictcp_register,crypto_kdf108_init",
}

// awaitAgent accepts QEMU's control connection and runs the handshake,
// giving up when the boot timeout passes or QEMU exits first.
func (v *VM) awaitAgent(ctx context.Context, ln *net.UnixListener) error {
	ctx, cancel := context.WithTimeoutCause(ctx, v.cfg.BootTimeout, ErrBootTimeout)
	defer cancel()
	ctx, exited := context.WithCancelCause(ctx)
	defer exited(nil)
	go func() {
		select {
		case <-v.qemu.Done():
			exited(ErrExited)
		case <-ctx.Done():
		}
	}()
	conn, err := v.connect(ctx, ln)
	if err != nil {
		return v.bootError(ctx, err)
	}
	v.cleanup.push(func(context.Context) error { conn.Close(); return nil })
	c, err := jsoncomm.NewClient(ctx, conn, jsoncomm.Hello{Agent: HostAgent, Arch: v.cfg.Arch})
	if err != nil {
		return v.bootError(ctx, err)
	}
	v.client = c
	v.mark(func(t *Timings, d time.Duration) { t.AgentReady = d })
	if peer := c.Peer(); peer.Arch != "" && peer.Arch != v.cfg.Arch {
		return fmt.Errorf("boot vm: agent runs %s, want %s: %w", peer.Arch, v.cfg.Arch, jsoncomm.ErrProtocol)
	}
	return nil
}

// bootError explains a failed boot with QEMU's errors and the console.
func (v *VM) bootError(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if cause == nil && v.exitsSoon() {
		cause = ErrExited // the channel broke because QEMU is exiting
	}
	switch {
	case errors.Is(cause, ErrExited):
		v.drainConsole()
		return fmt.Errorf("boot vm: qemu exited before the agent answered (%v)%s; "+
			"check the kernel and initramfs; last console lines:\n%s\n%w",
			v.qemu.Wait(), v.qemuErrors(), v.console.Tail(consoleLines), ErrExited)
	case errors.Is(cause, ErrBootTimeout):
		return fmt.Errorf("boot vm: agent did not answer within %v; last console lines:\n%s\n"+
			"try --accel tcg, a longer boot timeout, or check the kernel: %w",
			v.cfg.BootTimeout, v.console.Tail(consoleLines), ErrBootTimeout)
	case ctx.Err() != nil:
		return fmt.Errorf("boot vm: %w", cause)
	}
	return fmt.Errorf("boot vm: %w; last console lines:\n%s", err, v.console.Tail(consoleLines))
}

func (v *VM) qemuErrors() string {
	if s := strings.TrimSpace(v.qemuLog()); s != "" {
		return "; qemu said: " + s
	}
	return ""
}

// exitsSoon reports whether QEMU exits within a second.
func (v *VM) exitsSoon() bool {
	select {
	case <-v.qemu.Done():
		return true
	case <-time.After(time.Second):
		return false
	}
}

// drainConsole waits briefly for the console copier to read QEMU's last
// output.
func (v *VM) drainConsole() {
	select {
	case <-v.console.done:
	case <-time.After(time.Second):
	}
}
