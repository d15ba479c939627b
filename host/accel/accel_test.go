package accel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fakeRoot builds a sysfs/dev tree with the given modules and, when kvm is
// set, an openable /dev/kvm (a plain file stands in for the device).
func fakeRoot(t *testing.T, kvm bool, modules ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range modules {
		if err := os.MkdirAll(filepath.Join(root, "sys/module", m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if kvm {
		if err := os.WriteFile(filepath.Join(root, "dev/kvm"), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name     string
		hostArch string
		modules  []string
		kvm      bool
		mode     string
		arch     string
		want     Accel
		wantErr  error
	}{
		{"tcg always", "amd64", []string{"kvm", "kvm_intel"}, true, "tcg", "amd64", TCG, nil},
		{"auto intel", "amd64", []string{"kvm", "kvm_intel"}, true, "auto", "amd64", KVM, nil},
		{"auto amd", "amd64", []string{"kvm", "kvm_amd"}, true, "", "amd64", KVM, nil},
		{"auto pvm only", "amd64", []string{"kvm", "kvm_pvm"}, true, "auto", "amd64", TCG, nil},
		{"auto cross arch", "amd64", []string{"kvm", "kvm_intel"}, true, "auto", "arm64", TCG, nil},
		{"auto no device", "amd64", []string{"kvm", "kvm_intel"}, false, "auto", "amd64", TCG, nil},
		{"auto arm64 host", "arm64", []string{"kvm"}, true, "auto", "arm64", KVM, nil},
		{"kvm pvm only", "amd64", []string{"kvm", "kvm_pvm"}, true, "kvm", "amd64", "", ErrUnusable},
		{"kvm cross arch", "arm64", []string{"kvm"}, true, "kvm", "amd64", "", ErrUnusable},
		{"kvm no device", "arm64", []string{"kvm"}, false, "kvm", "arm64", "", ErrUnusable},
		{"kvm usable", "amd64", []string{"kvm_amd"}, true, "kvm", "amd64", KVM, nil},
		{"bad mode", "amd64", nil, false, "hvf", "amd64", "", ErrMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Host{Root: fakeRoot(t, tt.kvm, tt.modules...), Arch: tt.hostArch}
			got, err := Choose(h, tt.mode, tt.arch)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Choose error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Choose = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChooseThisHost(t *testing.T) {
	// Whatever this host offers, auto never fails and tcg is always tcg.
	if a, err := Choose(Host{}, ModeAuto, "arm64"); err != nil || (a != TCG && a != KVM) {
		t.Errorf("Choose auto = %q, %v", a, err)
	}
	if a, err := Choose(Host{}, ModeTCG, "amd64"); err != nil || a != TCG {
		t.Errorf("Choose tcg = %q, %v", a, err)
	}
}
