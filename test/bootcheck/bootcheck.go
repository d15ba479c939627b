// Package bootcheck boots a disk or ISO image in QEMU with no network and
// watches its serial console until a login prompt appears: the end-to-end
// check that an image osbuild-vm built really boots. It runs the host's
// QEMU under TCG (KVM where it works is no different to the image) with
// the firmware Debian packages: AAVMF (qemu-efi-aarch64) for arm64,
// OVMF (ovmf) or SeaBIOS for amd64. The image is opened read-only
// (snapshot=on), so checking an image never changes its bytes.
//
// On a timeout, or when QEMU ends first, the error carries the console's
// last lines, which say how far the boot got.
package bootcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Firmware is how the machine starts.
type Firmware string

const (
	// UEFI: AAVMF on arm64, OVMF on amd64.
	UEFI Firmware = "uefi"
	// BIOS: SeaBIOS, amd64 only.
	BIOS Firmware = "bios"
)

// Config says what to boot and how.
type Config struct {
	Image    string // the image file
	Format   string // "qcow2", "raw"; "" guesses from the name
	Arch     string // "amd64" or "arm64"
	Firmware Firmware
	// CDROM attaches the image as a CD-ROM drive (an ISO booted as a
	// disc); otherwise it is a virtio disk (a hybrid ISO as a USB stick).
	CDROM bool
	// Timeout bounds the boot; zero means DefaultTimeout.
	Timeout time.Duration
	// Memory in MiB; zero means 1024. CPUs: zero means 2.
	Memory, CPUs int
	// Console, when set, gets every byte of the serial console.
	Console io.Writer
	// QEMU is the emulator binary; "" means qemu-system-<arch> on PATH.
	QEMU string
}

// DefaultTimeout is long enough for a Debian system under TCG on a busy
// two-core machine.
const DefaultTimeout = 15 * time.Minute

// Result is a boot that reached its login prompt.
type Result struct {
	// Prompt is the line that matched, e.g. "debian login: ".
	Prompt string
	// Elapsed is the time from QEMU's start to the prompt.
	Elapsed time.Duration
}

// ErrNoLogin is a boot that ended, or ran out of time, before a login
// prompt.
var ErrNoLogin = errors.New("no login prompt")

// loginRe matches getty's prompt: "<hostname> login: ".
var loginRe = regexp.MustCompile(`(?m)^\S+ login: `)

// tailSize is how much of the console an error shows.
const tailSize = 3000

// Boot starts QEMU, waits for the login prompt and stops QEMU.
func Boot(ctx context.Context, cfg Config) (*Result, error) {
	args, cleanup, err := qemuArgs(cfg)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := cfg.QEMU
	if bin == "" {
		bin = map[string]string{"amd64": "qemu-system-x86_64", "arm64": "qemu-system-aarch64"}[cfg.Arch]
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	w := &watcher{found: make(chan string, 1), tee: cfg.Console}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("boot %s: start %s: %w", cfg.Image, bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case prompt := <-w.found:
		elapsed := time.Since(start)
		cancel()
		<-exited
		return &Result{Prompt: prompt, Elapsed: elapsed}, nil
	case err := <-exited:
		return nil, fmt.Errorf("boot %s (%s, %s): QEMU ended (%v) before a login prompt: %w\n%s", cfg.Image, cfg.Arch, cfg.Firmware, err, ErrNoLogin, w.tail())
	case <-ctx.Done():
		<-exited
		return nil, fmt.Errorf("boot %s (%s, %s): %w within %v; console's end:\n%s", cfg.Image, cfg.Arch, cfg.Firmware, ErrNoLogin, timeout, w.tail())
	}
}

// qemuArgs builds the machine: no network, no display, serial on stdout,
// the image read-only.
func qemuArgs(cfg Config) ([]string, func(), error) {
	memory, cpus := cfg.Memory, cfg.CPUs
	if memory == 0 {
		memory = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	args := []string{"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
		"-nic", "none", "-m", fmt.Sprint(memory), "-smp", fmt.Sprint(cpus), "-accel", "tcg,thread=multi"}
	fw, cleanup, err := firmware(cfg)
	if err != nil {
		return nil, nil, err
	}
	args = append(args, fw...)
	return append(args, drive(cfg)...), cleanup, nil
}

func drive(cfg Config) []string {
	format := cfg.Format
	if format == "" {
		format = "raw"
		if strings.HasSuffix(cfg.Image, ".qcow2") {
			format = "qcow2"
		}
	}
	file := fmt.Sprintf("file=%s,format=%s,snapshot=on", escapeComma(cfg.Image), format)
	if !cfg.CDROM {
		return []string{"-drive", file + ",if=virtio"}
	}
	if cfg.Arch == "arm64" {
		// virt has no IDE: a SCSI CD-ROM on virtio-scsi.
		return []string{"-device", "virtio-scsi-pci,id=scsi", "-drive", file + ",if=none,id=cd,media=cdrom,readonly=on",
			"-device", "scsi-cd,drive=cd"}
	}
	return []string{"-drive", file + ",media=cdrom,readonly=on"}
}

// escapeComma doubles commas, as QEMU's option syntax wants in values.
func escapeComma(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// firmware picks machine, CPU and firmware; UEFI gets a scratch copy of
// the variable store, removed by cleanup.
func firmware(cfg Config) ([]string, func(), error) {
	none := func() {}
	switch {
	case cfg.Arch == "arm64" && cfg.Firmware == UEFI:
		return pflash([]string{"-M", "virt", "-cpu", "cortex-a57"}, "/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd", "qemu-efi-aarch64")
	case cfg.Arch == "amd64" && cfg.Firmware == UEFI:
		return pflash([]string{"-M", "q35", "-cpu", "max"}, "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", "ovmf")
	case cfg.Arch == "amd64" && cfg.Firmware == BIOS:
		return []string{"-M", "q35", "-cpu", "max"}, none, nil
	}
	return nil, none, fmt.Errorf("boot %s: no %s firmware for %s (arm64 boots UEFI; amd64 UEFI or BIOS)", cfg.Image, cfg.Firmware, cfg.Arch)
}

func pflash(machine []string, code, vars, pkg string) ([]string, func(), error) {
	none := func() {}
	for _, f := range []string{code, vars} {
		if _, err := os.Stat(f); err != nil {
			return nil, none, fmt.Errorf("firmware %s: %w (install %s)", f, err, pkg)
		}
	}
	data, err := os.ReadFile(vars)
	if err != nil {
		return nil, none, err
	}
	dir, err := os.MkdirTemp("", "bootcheck-")
	if err != nil {
		return nil, none, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	copyVars := filepath.Join(dir, filepath.Base(vars))
	if err := os.WriteFile(copyVars, data, 0o600); err != nil {
		cleanup()
		return nil, none, err
	}
	return append(machine,
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escapeComma(code),
		"-drive", "if=pflash,format=raw,unit=1,file="+escapeComma(copyVars)), cleanup, nil
}

// watcher keeps the console's tail and reports the first login prompt.
type watcher struct {
	mu    sync.Mutex
	buf   []byte
	found chan string
	done  bool
	tee   io.Writer
}

func (w *watcher) Write(p []byte) (int, error) {
	if w.tee != nil {
		w.tee.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if !w.done {
		if m := loginRe.Find(w.buf); m != nil {
			w.done = true
			w.found <- string(m)
		}
	}
	if len(w.buf) > 4*tailSize {
		// keep enough to find a prompt split across writes
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailSize:]...)
	}
	return len(p), nil
}

// tail is the console's end, printable.
func (w *watcher) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
	}
	return string(bytes.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r >= ' ' && r != 0x7f {
			return r
		}
		return -1
	}, b))
}
