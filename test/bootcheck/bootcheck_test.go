package bootcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeQEMU writes a script that stands in for QEMU: it prints body.
func fakeQEMU(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBootFindsLoginPrompt(t *testing.T) {
	qemu := fakeQEMU(t, `printf 'EFI stub: Booting Linux Kernel...\r\n'
printf 'Debian GNU/Linux 13 debian ttyAMA0\r\n\r\ndeb'
sleep 0.2
printf 'ian login: '
sleep 60
`)
	res, err := Boot(context.Background(), Config{Image: "x.qcow2", Arch: "arm64", Firmware: UEFI, QEMU: qemu, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Prompt != "debian login: " {
		t.Errorf("prompt = %q", res.Prompt)
	}
}

func TestBootFailsWithConsoleTail(t *testing.T) {
	tests := []struct {
		name, body string
		timeout    time.Duration
		want       string
	}{
		{"qemu ends", `printf 'Kernel panic - not syncing: VFS: Unable to mount root fs\n'; exit 1`, time.Minute, "QEMU ended"},
		{"timeout", `printf 'Begin: Waiting for root file system ...\n'; sleep 60`, 500 * time.Millisecond, "within 500ms"},
		{"prompt-like text is not a prompt", `printf 'the word login: appears mid-line\n'; exit 0`, time.Minute, "QEMU ended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qemu := fakeQEMU(t, tt.body)
			start := time.Now()
			_, err := Boot(context.Background(), Config{Image: "x.raw", Arch: "amd64", Firmware: BIOS, QEMU: qemu, Timeout: tt.timeout})
			if !errors.Is(err, ErrNoLogin) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrNoLogin with %q", err, tt.want)
			}
			firstLine := strings.SplitN(strings.SplitN(tt.body, "'", 3)[1], `\n`, 2)[0]
			if !strings.Contains(err.Error(), firstLine) {
				t.Errorf("error lacks the console's tail %q:\n%v", firstLine, err)
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("QEMU was not stopped at once")
			}
		})
	}
}

func TestQEMUArgs(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string
	}{
		{Config{Image: "/a,b/disk.qcow2", Arch: "arm64", Firmware: UEFI},
			[]string{"-M", "virt", "-cpu", "cortex-a57", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd",
				"file=/a,,b/disk.qcow2,format=qcow2,snapshot=on,if=virtio", "-nic", "none"}},
		{Config{Image: "disk.raw", Arch: "amd64", Firmware: BIOS},
			[]string{"-M", "q35", "file=disk.raw,format=raw,snapshot=on,if=virtio"}},
		{Config{Image: "live.iso", Arch: "amd64", Firmware: UEFI, CDROM: true},
			[]string{"/usr/share/OVMF/OVMF_CODE_4M.fd", "file=live.iso,format=raw,snapshot=on,media=cdrom,readonly=on"}},
	}
	for _, tt := range tests {
		args, cleanup, err := qemuArgs(tt.cfg)
		if err != nil {
			t.Fatalf("%+v: %v", tt.cfg, err)
		}
		joined := strings.Join(args, " ")
		for _, w := range tt.want {
			if !slices.Contains(args, w) && !strings.Contains(joined, w) {
				t.Errorf("%+v: args lack %q:\n%s", tt.cfg, w, joined)
			}
		}
		cleanup()
	}
	if _, _, err := qemuArgs(Config{Image: "x", Arch: "arm64", Firmware: BIOS}); err == nil {
		t.Error("arm64 with BIOS was accepted")
	}
}
