package qemu

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/host/accel"
)

var update = flag.Bool("update", false, "rewrite golden files")

func baseConfig(arch string) Config {
	return Config{
		Arch: arch, Accel: accel.TCG, MemoryMiB: 2048, CPUs: 2,
		Kernel: "/w/vmlinuz", Initrd: "/w/initrd", Append: "console=X quiet osbuildvm.share=src:ro",
		Console: "/w/console.log", QMP: "/w/qmp.sock", Control: "/w/control.sock",
		Shares: []Share{{"src", "/w/fs-src.sock"}, {"scratch", "/w/fs,scratch.sock"}},
	}
}

func TestArgsGolden(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"amd64-tcg", func(c *Config) {}},
		{"arm64-tcg", func(c *Config) { c.Arch = "arm64" }},
		{"amd64-kvm", func(c *Config) { c.Accel = accel.KVM }},
		{"arm64-kvm-vsock", func(c *Config) { c.Arch, c.Accel, c.Control, c.VsockCID = "arm64", accel.KVM, "", 42 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseConfig("amd64")
			tt.edit(&c)
			args, err := Args(c)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(args, "\n") + "\n"
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("args differ from %s (-want +got):\n%s", golden, d)
			}
		})
	}
}

func TestArgsInvalid(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"arch", func(c *Config) { c.Arch = "riscv64" }},
		{"accel", func(c *Config) { c.Accel = "hvf" }},
		{"memory", func(c *Config) { c.MemoryMiB = 64 }},
		{"no cpus", func(c *Config) { c.CPUs = 0 }},
		{"arm64 too many cpus", func(c *Config) { c.Arch, c.CPUs = "arm64", 9 }},
		{"no kernel", func(c *Config) { c.Kernel = "" }},
		{"no channel", func(c *Config) { c.Control = "" }},
		{"reserved cid", func(c *Config) { c.Control, c.VsockCID = "", 2 }},
		{"tag comma", func(c *Config) { c.Shares[0].Tag = "a,b" }},
		{"tag space", func(c *Config) { c.Shares[0].Tag = "a b" }},
		{"tag long", func(c *Config) { c.Shares[0].Tag = strings.Repeat("a", 37) }},
		{"tag empty", func(c *Config) { c.Shares[0].Tag = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseConfig("amd64")
			tt.edit(&c)
			if _, err := Args(c); !errors.Is(err, ErrConfig) {
				t.Errorf("Args = %v, want ErrConfig", err)
			}
		})
	}
}

func TestBinaryAndConsole(t *testing.T) {
	tests := []struct{ arch, bin, console string }{
		{"amd64", "qemu-system-x86_64", "ttyS0"},
		{"arm64", "qemu-system-aarch64", "ttyAMA0"},
	}
	for _, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			if b, err := Binary(tt.arch); err != nil || b != tt.bin {
				t.Errorf("Binary = %q, %v", b, err)
			}
			if c := ConsoleDevice(tt.arch); c != tt.console {
				t.Errorf("ConsoleDevice = %q", c)
			}
		})
	}
	if _, err := Binary("386"); !errors.Is(err, ErrConfig) {
		t.Errorf("Binary(386) = %v, want ErrConfig", err)
	}
}
