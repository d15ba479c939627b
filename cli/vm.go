package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/guestbin"
	"github.com/osbuild-vm/osbuild-vm/host/kernels"
	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// guestBinary provides the agent for the initramfs; tests may replace it.
var guestBinary kernels.GuestBinaryFunc = guestbin.Binary

const vmUsage = `usage: osbuild-vm vm check --arch amd64|arm64 [flags]

Boots the build VM and checks the agent, the control channel and the shares.
`

// vmFlags are the flags every VM-booting command shares.
type vmFlags struct {
	arch, store, accel, mirror, kernelDir string
	memory, cpus                          int
	bootTimeout                           time.Duration
	debug                                 bool
}

func (f *vmFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.arch, "arch", "", "guest architecture: amd64 or arm64 (required)")
	fs.StringVar(&f.store, "store", ".osbuild", "store directory (kernels and initramfs are cached there)")
	fs.StringVar(&f.accel, "accel", "auto", "accelerator: auto, kvm or tcg")
	fs.StringVar(&f.mirror, "mirror", "", "Debian mirror URL (default: $OSBUILD_VM_MIRROR, else the host's apt sources)")
	fs.StringVar(&f.kernelDir, "vm-kernel", "", "use the kernel and modules in this directory instead of the archive's")
	fs.Var(funcValue(func(s string) error {
		n, err := parseMemory(s)
		f.memory = int(n >> 20)
		return err
	}), "memory", "guest memory, e.g. 2GiB, as run takes it (default 2GiB, at most half the host's RAM)")
	fs.IntVar(&f.cpus, "cpus", 0, "guest CPUs (default: host cores, at most 4)")
	fs.DurationVar(&f.bootTimeout, "boot-timeout", vm.DefaultBootTimeout, "how long the agent may take to answer")
	fs.BoolVar(&f.debug, "debug", false, "kernel and agent log to the console; print the console on failure")
}

func vmCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, vmUsage)
		return exitf(ExitInvalid, "vm: unknown or missing subcommand; use \"vm check\"")
	}
	fs := flag.NewFlagSet("vm check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f vmFlags
	f.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: ExitInvalid, Err: err}
	}
	if err := f.validate(fs); err != nil {
		return err
	}
	return vmCheck(ctx, f, stdout)
}

func (f *vmFlags) validate(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() != 0:
		return exitf(ExitInvalid, "vm check: unexpected argument %q", fs.Arg(0))
	case f.arch != "amd64" && f.arch != "arm64":
		return exitf(ExitInvalid, "--arch: unknown architecture %q; use amd64 or arm64", f.arch)
	case f.accel != "auto" && f.accel != "kvm" && f.accel != "tcg":
		return exitf(ExitInvalid, "--accel: unknown accelerator %q; use auto, kvm or tcg", f.accel)
	case f.cpus < 0 || f.cpus > 64:
		return exitf(ExitInvalid, "--cpus: %d is out of range; give 1 to 64", f.cpus)
	case f.bootTimeout <= 0:
		return exitf(ExitInvalid, "--boot-timeout: must be positive")
	}
	return nil
}

// phase prints one line of the check's progress.
func phase(w io.Writer, name string, d time.Duration, format string, args ...any) {
	fmt.Fprintf(w, "%-10s %7.3fs  %s\n", name, d.Seconds(), fmt.Sprintf(format, args...))
}

func vmCheck(ctx context.Context, f vmFlags, stdout io.Writer) error {
	store, err := filepath.Abs(f.store)
	if err != nil {
		return exitf(ExitFailed, "--store: %v", err)
	}
	boot, err := kernels.Prepare(ctx, kernels.Options{
		StoreDir: store, Arch: f.arch, Mirror: f.mirror, KernelDir: f.kernelDir, GuestBinary: guestBinary,
	})
	switch {
	case errors.Is(err, kernels.ErrKernel):
		return vmFail(ctx, "vm check: %w; check --mirror (or $OSBUILD_VM_MIRROR) and the network, or pass --vm-kernel DIR", err)
	case errors.Is(err, kernels.ErrGuestBinary):
		return vmFail(ctx, "vm check: %w; build with make (embeds the guest binary) or install Go to build it", err)
	case err != nil:
		return vmFail(ctx, "vm check: %w", err)
	}
	phase(stdout, "kernel", boot.KernelTime, "%s %s in %s", boot.Kernel.Version, boot.Kernel.PackageVersion, boot.Kernel.Dir)
	phase(stdout, "initramfs", boot.InitrdTime, "%s (%s)", boot.Initrd, map[bool]string{true: "cached", false: "built"}[boot.InitrdCached])
	shares, err := newCheckShares()
	if err != nil {
		return vmFail(ctx, "vm check: %w", err)
	}
	defer shares.remove()
	return bootAndCheck(ctx, f, boot, shares, stdout)
}

func bootAndCheck(ctx context.Context, f vmFlags, boot *kernels.Boot, sh *checkShares, stdout io.Writer) error {
	v, err := vm.Start(ctx, vm.Config{
		Arch: f.arch, Accel: f.accel, MemoryMiB: f.memory, CPUs: f.cpus,
		Kernel: boot.Kernel.Image, Initrd: boot.Initrd, BootTimeout: f.bootTimeout, Debug: f.debug,
		Shares: sh.shares(),
	})
	if err != nil {
		return vmFail(ctx, "vm check: %w", err)
	}
	defer v.Close()
	t := v.Timings()
	phase(stdout, "qemu", t.QEMUStarted, "started (%s, %s)", v.Accel(), f.arch)
	phase(stdout, "agent", t.AgentReady, "ready: %s", v.Client().Peer().Agent)
	if err := runChecks(ctx, v, sh, stdout); err != nil {
		if f.debug {
			fmt.Fprintf(stdout, "console:\n%s\n", v.ConsoleTail(40))
		}
		return vmFail(ctx, "vm check: %w; last console lines:\n%s", err, v.ConsoleTail(15))
	}
	start := time.Now()
	if err := v.Shutdown(ctx); err != nil {
		return vmFail(ctx, "vm check: power off: %w", err)
	}
	phase(stdout, "power-off", time.Since(start), "clean")
	fmt.Fprintln(stdout, "vm check passed")
	return nil
}

// vmFail reports a failure, or an interruption when ctx was canceled.
func vmFail(ctx context.Context, format string, args ...any) error {
	if ctx.Err() != nil {
		return exitf(ExitInterrupted, "vm check: interrupted")
	}
	return exitf(ExitFailed, format, args...)
}

// checkShares are the check's two shared directories.
type checkShares struct {
	root, ro, rw string
}

// checkContent is what the host writes for the guest to read.
const checkContent = "osbuild-vm check: written by the host\n"

func newCheckShares() (*checkShares, error) {
	root, err := os.MkdirTemp("", "osbuild-vm-check-")
	if err != nil {
		return nil, err
	}
	s := &checkShares{root: root, ro: filepath.Join(root, "ro"), rw: filepath.Join(root, "rw")}
	for _, d := range []string{s.ro, s.rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			s.remove()
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(s.ro, "host.txt"), []byte(checkContent), 0o644); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *checkShares) shares() []vm.Share {
	return []vm.Share{{Tag: "input", Dir: s.ro, ReadOnly: true}, {Tag: "scratch", Dir: s.rw}}
}

func (s *checkShares) remove() { os.RemoveAll(s.root) }

// pings is how many round trips the check measures.
const pings = 20

// runChecks exercises the agent: info, round trips, both shares.
func runChecks(ctx context.Context, v *vm.VM, sh *checkShares, stdout io.Writer) error {
	steps := []struct {
		name string
		run  func(context.Context, *vm.VM, *checkShares) (string, error)
	}{
		{"info", checkInfo},
		{"ping", checkPing},
		{"share ro", checkReadShare},
		{"share ro", checkWriteRefused},
		{"share rw", checkWriteShare},
	}
	for _, s := range steps {
		start := time.Now()
		msg, err := s.run(ctx, v, sh)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		phase(stdout, s.name, time.Since(start), "%s", msg)
	}
	return nil
}

func checkInfo(ctx context.Context, v *vm.VM, _ *checkShares) (string, error) {
	var info jsoncomm.Info
	if err := v.Client().Call(ctx, jsoncomm.MethodInfo, jsoncomm.Empty{}, &info, nil); err != nil {
		return "", err
	}
	if info.Arch != v.Arch() {
		return "", fmt.Errorf("agent reports arch %q, want %q; the initramfs holds the wrong guest binary", info.Arch, v.Arch())
	}
	if len(info.Shares) != 2 {
		return "", fmt.Errorf("agent mounted %d shares, want 2 (input, scratch); check virtiofs in the kernel and the console", len(info.Shares))
	}
	return fmt.Sprintf("%s, kernel %s, %d modules, agent up %d ms after boot", info.Agent, info.Kernel, len(info.Modules), info.BootMillis), nil
}

func checkPing(ctx context.Context, v *vm.VM, _ *checkShares) (string, error) {
	d := make([]time.Duration, pings)
	for i := range d {
		start := time.Now()
		if err := v.Client().Call(ctx, jsoncomm.MethodPing, jsoncomm.Empty{}, nil, nil); err != nil {
			return "", err
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return fmt.Sprintf("round trip median %.2f ms, max %.2f ms over %d", ms(d[len(d)/2]), ms(d[len(d)-1]), pings), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func checkReadShare(ctx context.Context, v *vm.VM, _ *checkShares) (string, error) {
	var data jsoncomm.FileData
	p := jsoncomm.SharesDir + "/input/host.txt"
	if err := v.Client().Call(ctx, jsoncomm.MethodReadFile, jsoncomm.ReadFileParams{Path: p}, &data, nil); err != nil {
		return "", fmt.Errorf("read %s: %w; check virtiofsd's log and that the share is mounted", p, err)
	}
	if string(data.Data) != checkContent {
		return "", fmt.Errorf("read %s: got %q, want %q", p, data.Data, checkContent)
	}
	return "host file read through the read-only share", nil
}

func checkWriteRefused(ctx context.Context, v *vm.VM, sh *checkShares) (string, error) {
	p := jsoncomm.SharesDir + "/input/guest.txt"
	err := v.Client().Call(ctx, jsoncomm.MethodWriteFile, jsoncomm.WriteFileParams{Path: p, Data: []byte("x"), Mode: 0o644}, nil, nil)
	if !errors.Is(err, jsoncomm.ErrPermission) {
		return "", fmt.Errorf("write %s: got %v, want a permission error: the read-only share is writable", p, err)
	}
	if _, err := os.Stat(filepath.Join(sh.ro, "guest.txt")); err == nil {
		return "", fmt.Errorf("write %s: the file appeared on the host", p)
	}
	return "write refused (permission)", nil
}

func checkWriteShare(ctx context.Context, v *vm.VM, sh *checkShares) (string, error) {
	want := []byte("osbuild-vm check: written by the guest\n")
	p := jsoncomm.SharesDir + "/scratch/guest.txt"
	if err := v.Client().Call(ctx, jsoncomm.MethodWriteFile, jsoncomm.WriteFileParams{Path: p, Data: want, Mode: 0o644}, nil, nil); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	got, err := os.ReadFile(filepath.Join(sh.rw, "guest.txt"))
	if err != nil {
		return "", fmt.Errorf("read the guest's file on the host: %w", err)
	}
	if !bytes.Equal(got, want) {
		return "", fmt.Errorf("guest's file on the host holds %q, want %q", got, want)
	}
	return "guest file read back on the host", nil
}
