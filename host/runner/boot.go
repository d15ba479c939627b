package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/kernels"
	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// BootConfig says which build VM to boot for a run.
type BootConfig struct {
	StoreDir  string
	Arch      string
	Accel     string
	MemoryMiB int
	CPUs      int
	Mirror    string
	KernelDir string
	// Shares are the host directories the stages need: the store's
	// objects and sources and the run directory, read-only, and every
	// libdir; the one writable share is where the guest saves trees.
	Shares []vm.Share
	// GuestBinary provides the guest agent for Arch.
	GuestBinary kernels.GuestBinaryFunc
	Log         io.Writer
	Debug       bool
}

// ShutdownTimeout bounds the polite power-off at the end of a run.
const ShutdownTimeout = 20 * time.Second

// Boot prepares the kernel and initramfs, starts the VM and returns a
// runner on its agent. Closing the runner powers the VM off.
func Boot(ctx context.Context, cfg BootConfig) (*Runner, error) {
	b, err := kernels.Prepare(ctx, kernels.Options{
		StoreDir: cfg.StoreDir, Arch: cfg.Arch, Mirror: cfg.Mirror, KernelDir: cfg.KernelDir,
		GuestBinary: cfg.GuestBinary, Log: cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("build vm: prepare kernel and initramfs: %w", err)
	}
	v, err := vm.Start(ctx, vm.Config{
		Arch: cfg.Arch, Accel: cfg.Accel, MemoryMiB: cfg.MemoryMiB, CPUs: cfg.CPUs,
		Kernel: b.Kernel.Image, Initrd: b.Initrd, Shares: cfg.Shares, Debug: cfg.Debug,
	})
	if err != nil {
		return nil, fmt.Errorf("build vm: %w", err)
	}
	if cfg.Log != nil {
		t := v.Timings()
		fmt.Fprintf(cfg.Log, "build vm: %s %s (%s), agent ready after %.2fs\n",
			cfg.Arch, b.Kernel.Version, v.Accel(), t.AgentReady.Seconds())
	}
	mapping := make([]Share, len(cfg.Shares))
	outDir := ""
	for i, s := range cfg.Shares {
		mapping[i] = Share{HostDir: filepath.Clean(s.Dir), GuestDir: jsoncomm.SharesDir + "/" + s.Tag}
		if !s.ReadOnly {
			outDir = s.Dir
		}
	}
	r := New(v.Client(), mapping, outDir, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		err := v.Shutdown(ctx)
		if errors.Is(err, vm.ErrKilled) {
			return nil // the run's work is done; a VM that had to be killed is not its failure
		}
		return err
	})
	r.vm = v
	return r, nil
}

// explain adds the console's last lines to an error that came from a VM
// that is gone, since the channel alone cannot say why.
func (r *Runner) explain(err error) error {
	if err == nil || r.vm == nil {
		return err
	}
	select {
	case <-r.vm.Done():
		return fmt.Errorf("%w\nbuild vm exited; last console lines:\n%s", err, r.vm.ConsoleTail(20))
	default:
		return err
	}
}
