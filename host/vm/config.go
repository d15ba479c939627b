// Package vm runs the build VM: it starts one virtiofsd per share and QEMU
// with the kernel and initramfs, waits for the guest agent's hello on the
// control channel, and later stops everything again, whatever happens.
//
// Lifecycle: Start returns once the agent has answered (or fails with the
// console tail in its error); Client talks to the agent; Shutdown asks the
// agent to power off, then presses the virtual power button, then kills
// QEMU; Close (idempotent, always safe to defer) tears down what is left:
// QEMU, the virtiofsd daemons and the temporary directory holding the
// sockets and logs. All helper processes run in their own process groups
// with Pdeathsig, so even a SIGKILL of osbuild-vm leaves none running.
//
// Temporary directory (removed by Close; after a SIGKILL, by the next Start
// in the same parent, once the dead run's owner lock is free):
//
//	osbuild-vm-XXXX/
//	  owner.lock     flock held by the running osbuild-vm
//	  control.sock   host listens; QEMU's virtio-serial chardev connects
//	  console.sock   host listens; QEMU's serial console connects
//	  console.log    the console, capped at MaxConsoleLog
//	  qemu.log       QEMU's own stderr
//	  qmp.sock       QEMU listens; QMP
//	  fs-N.sock      virtiofsd N listens; QEMU connects
//	  virtiofsd.log  the daemons' stderr
package vm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// Defaults for a zero Config field.
const (
	// DefaultMemoryMiB is enough for dpkg and compressors; memfd memory
	// is only allocated as the guest touches it.
	DefaultMemoryMiB = 2048
	// DefaultBootTimeout bounds kernel boot plus agent start. Under TCG
	// on a busy 2-core machine a boot takes seconds; a minute means
	// something is wrong, not slow.
	DefaultBootTimeout = 60 * time.Second
	// maxDefaultCPUs caps the default: each vCPU is a host thread under
	// multi-threaded TCG, and more vCPUs than host cores only slow it.
	maxDefaultCPUs = 4
)

// Channel kinds for Config.Channel.
const (
	ChannelVirtioSerial = "virtio-serial"
	ChannelVsock        = "vsock"
)

// Errors callers branch on.
var (
	// ErrConfig: the Config cannot describe a VM.
	ErrConfig = errors.New("invalid vm configuration")
	// ErrBootTimeout: the agent did not say hello within BootTimeout.
	ErrBootTimeout = errors.New("agent did not answer")
	// ErrExited: QEMU exited before the agent answered.
	ErrExited = errors.New("vm exited")
	// ErrNotInstalled: QEMU or virtiofsd is missing.
	ErrNotInstalled = errors.New("not installed")
)

// Share is a host directory the guest mounts at
// jsoncomm.SharesDir/<Tag>.
type Share struct {
	Tag      string
	Dir      string
	ReadOnly bool
}

// Config describes one VM. Zero fields take the documented defaults.
type Config struct {
	// Arch is the guest architecture, amd64 or arm64.
	Arch string
	// Accel is auto (the zero value), kvm or tcg; see package accel.
	Accel string
	// MemoryMiB defaults to DefaultMemoryMiB, at most half the host's RAM.
	MemoryMiB int
	// CPUs defaults to the host's cores, at most 4.
	CPUs int
	// Kernel and Initrd are the files QEMU boots.
	Kernel string
	Initrd string
	Shares []Share
	// BootTimeout defaults to DefaultBootTimeout.
	BootTimeout time.Duration
	// WorkDir is where the temporary directory goes; empty means
	// os.TempDir().
	WorkDir string
	// Debug makes the kernel and the agent log to the console.
	Debug bool
	// Channel is virtio-serial (the zero value) or vsock. vsock needs
	// /dev/vhost-vsock on the host; it is opt-in because it cannot be
	// tested on hosts without it.
	Channel string
	// Append adds kernel command line words (tests, debugging).
	Append []string
	// QEMU overrides the emulator binary; empty looks it up in PATH.
	QEMU string
	// Virtiofsd overrides the virtiofsd binary.
	Virtiofsd string
	// ShareCache is virtiofsd's cache mode (auto, always, none); empty
	// means virtiofsd.DefaultCache.
	ShareCache string
}

func (c Config) withDefaults() (Config, error) {
	if c.Arch != "amd64" && c.Arch != "arm64" {
		return c, fmt.Errorf("arch %q: %w; use amd64 or arm64", c.Arch, ErrConfig)
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = defaultMemory()
	}
	if c.CPUs == 0 {
		c.CPUs = min(runtime.NumCPU(), maxDefaultCPUs)
	}
	if c.BootTimeout == 0 {
		c.BootTimeout = DefaultBootTimeout
	}
	if c.Channel == "" {
		c.Channel = ChannelVirtioSerial
	}
	if c.Channel != ChannelVirtioSerial && c.Channel != ChannelVsock {
		return c, fmt.Errorf("channel %q: %w; use virtio-serial or vsock", c.Channel, ErrConfig)
	}
	return c, c.checkFiles()
}

func (c Config) checkFiles() error {
	for _, f := range []struct{ what, path string }{{"kernel", c.Kernel}, {"initrd", c.Initrd}} {
		if fi, err := os.Stat(f.path); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("%s %q: not a regular file: %w", f.what, f.path, ErrConfig)
		}
	}
	seen := map[string]bool{}
	for _, s := range c.Shares {
		if seen[s.Tag] {
			return fmt.Errorf("share tag %q used twice: %w", s.Tag, ErrConfig)
		}
		seen[s.Tag] = true
	}
	return nil
}

// defaultMemory is DefaultMemoryMiB, or half the host's RAM when that is
// less.
func defaultMemory() int {
	var si sysinfo
	if total := si.totalMiB(); total > 0 && total/2 < DefaultMemoryMiB {
		return max(total/2, 256)
	}
	return DefaultMemoryMiB
}
