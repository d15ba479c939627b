//go:build e2e

package test

import (
	"testing"

	"github.com/osbuild-vm/osbuild-vm/test/bootcheck"
)

// These boot tests run with `make e2e` (-tags e2e): each builds a whole
// Debian image under TCG, too long for every `go test ./...`, which boots
// the arm64 qcow2 (TestBootArm64Qcow2).

// TestBootAmd64Qcow2: one amd64 image boots with SeaBIOS (GRUB's core in
// the BIOS boot partition) and with OVMF (the removable-media loader on
// the ESP).
func TestBootAmd64Qcow2(t *testing.T) {
	img := stockImage(t, "amd64", "trixie-qcow2.json", "qcow2", "disk.qcow2")
	for _, fw := range []bootcheck.Firmware{bootcheck.BIOS, bootcheck.UEFI} {
		t.Run(string(fw), func(t *testing.T) {
			bootToLogin(t, bootcheck.Config{Image: img, Arch: "amd64", Firmware: fw})
		})
	}
}

// TestBootISO: the stock live ISO boots as a disk (a USB stick: GPT's
// appended ESP under UEFI, GRUB's hybrid MBR under BIOS) and, on amd64,
// as a disc (El Torito).
func TestBootISO(t *testing.T) {
	for _, arch := range []string{"arm64", "amd64"} {
		t.Run(arch, func(t *testing.T) {
			iso := stockImage(t, arch, "trixie-iso.json", "iso", "debian-live.iso")
			cfgs := []bootcheck.Config{{Image: iso, Arch: arch, Firmware: bootcheck.UEFI}}
			if arch == "amd64" {
				cfgs = append(cfgs, bootcheck.Config{Image: iso, Arch: arch, Firmware: bootcheck.BIOS})
			}
			for _, cfg := range cfgs {
				cfg.Format = "raw"
				t.Run(string(cfg.Firmware), func(t *testing.T) { bootToLogin(t, cfg) })
			}
		})
	}
}
