// Package accel chooses how QEMU executes the guest: KVM when the host can
// really run the target architecture in hardware, TCG (emulation) otherwise.
//
// Opening /dev/kvm is not enough: some hosts expose a paravirtual KVM
// (kvm_pvm) on which a stock kernel aborts or spins, so KVM counts as usable
// only when the hardware module (kvm_intel or kvm_amd on x86_64, kvm on
// arm64) is loaded and the guest architecture equals the host's.
package accel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Accel is an accelerator QEMU understands.
type Accel string

const (
	KVM Accel = "kvm"
	TCG Accel = "tcg"
)

// Modes the user may ask for.
const (
	ModeAuto = "auto"
	ModeKVM  = "kvm"
	ModeTCG  = "tcg"
)

// ErrUnusable means KVM was asked for but cannot run this guest here.
var ErrUnusable = errors.New("kvm unusable")

// ErrMode means an unknown --accel value.
var ErrMode = errors.New("unknown accelerator")

// Host describes the machine to probe. The zero value probes the real host.
type Host struct {
	// Root is prepended to /sys and /dev paths; empty means "/".
	Root string
	// Arch is the host's architecture in Go terms; empty means GOARCH.
	Arch string
}

// Choose returns the accelerator for a guest of arch (amd64 or arm64) under
// mode (auto, kvm or tcg). For mode kvm it says why KVM cannot be used.
func Choose(h Host, mode, arch string) (Accel, error) {
	switch mode {
	case ModeTCG:
		return TCG, nil
	case ModeAuto, "":
		if h.kvmProblem(arch) != nil {
			return TCG, nil
		}
		return KVM, nil
	case ModeKVM:
		if err := h.kvmProblem(arch); err != nil {
			return "", fmt.Errorf("--accel kvm: %w; use --accel tcg or auto", err)
		}
		return KVM, nil
	}
	return "", fmt.Errorf("--accel %q: %w; use auto, kvm or tcg", mode, ErrMode)
}

// kvmProblem returns why KVM cannot run a guest of arch, or nil.
func (h Host) kvmProblem(arch string) error {
	host := h.Arch
	if host == "" {
		host = runtime.GOARCH
	}
	if host != arch {
		return fmt.Errorf("guest %s on host %s needs emulation: %w", arch, host, ErrUnusable)
	}
	if !h.hardwareModule(host) {
		return fmt.Errorf("no hardware KVM module (kvm_intel, kvm_amd or arm64 kvm) loaded: %w", ErrUnusable)
	}
	f, err := os.OpenFile(h.path("/dev/kvm"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open /dev/kvm: %v: %w", err, ErrUnusable)
	}
	f.Close()
	return nil
}

func (h Host) hardwareModule(host string) bool {
	mods := []string{"kvm_intel", "kvm_amd"}
	if host == "arm64" {
		mods = []string{"kvm"}
	}
	for _, m := range mods {
		if _, err := os.Stat(h.path("/sys/module/" + m)); err == nil {
			return true
		}
	}
	return false
}

func (h Host) path(p string) string {
	if h.Root == "" {
		return p
	}
	return filepath.Join(h.Root, p)
}
