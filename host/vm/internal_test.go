package vm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/host/accel"
)

func TestConsoleTail(t *testing.T) {
	tests := []struct {
		name  string
		input string
		n     int
		want  string
	}{
		{"last lines", "a\nb\nc\nd\n", 2, "c\nd"},
		{"fewer lines", "only\n", 5, "only"},
		{"no newline", "partial", 1, "partial"},
		{"crlf and escapes", "x\r\n\x1b[2Jclear\x07\r\n", 2, "x\n[2Jclear"},
		{"empty", "", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newConsole(filepath.Join(t.TempDir(), "console.log"))
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(tt.input))
			if got := c.Tail(tt.n); got != tt.want {
				t.Errorf("Tail(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestConsoleBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	c, err := newConsole(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range (MaxConsoleLog / len(line)) + 100 {
		c.Write(line)
	}
	c.Write([]byte("the end\n"))
	c.closeFile()
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != MaxConsoleLog {
		t.Errorf("console.log size = %v, %v; want the cap %d", fi.Size(), err, MaxConsoleLog)
	}
	if len(c.tail) > tailBytes {
		t.Errorf("tail holds %d bytes, cap %d", len(c.tail), tailBytes)
	}
	if got := c.Tail(1); got != "the end" {
		t.Errorf("Tail after the cap = %q", got)
	}
}

func TestCleanupsReverseOnceJoined(t *testing.T) {
	var c cleanups
	var order []int
	e1, e3 := errors.New("one"), errors.New("three")
	c.push(func(context.Context) error { order = append(order, 1); return e1 })
	c.push(func(context.Context) error { order = append(order, 2); return nil })
	c.push(func(ctx context.Context) error {
		order = append(order, 3)
		if ctx.Err() != nil {
			t.Error("cleanup ran under a canceled context")
		}
		return e3
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.run(ctx)
	if !errors.Is(err, e1) || !errors.Is(err, e3) {
		t.Errorf("run = %v, want both errors", err)
	}
	if again := c.run(ctx); again != err {
		t.Errorf("second run = %v, want the first result", again)
	}
	if len(order) != 3 || order[0] != 3 || order[2] != 1 {
		t.Errorf("order = %v, want [3 2 1] once", order)
	}
}

func TestKernelCmdline(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		kvm  bool
		want []string
		not  []string
	}{
		{"amd64", Config{Arch: "amd64", Shares: []Share{{Tag: "src", ReadOnly: true}, {Tag: "scratch"}}},
			false, []string{"console=ttyS0", "panic=-1", "quiet", "mitigations=off", "no_timer_check", "osbuildvm.channel=virtio-serial", "osbuildvm.share=src:ro", "osbuildvm.share=scratch"},
			[]string{"osbuildvm.debug=1"}},
		{"vsock kvm", Config{Arch: "amd64", Channel: ChannelVsock}, true,
			[]string{"osbuildvm.channel=vsock:1024"}, []string{"osbuildvm.channel=virtio-serial", "mitigations=off"}},
		{"arm64 debug", Config{Arch: "arm64", Debug: true, Append: []string{"extra=1"}}, false,
			[]string{"console=ttyAMA0", "osbuildvm.debug=1", "extra=1"},
			[]string{"quiet", "i8042.noaux", "no_timer_check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := accel.TCG
			if tt.kvm {
				a = accel.KVM
			}
			words := strings.Fields(kernelCmdline(tt.cfg, a))
			has := map[string]bool{}
			for _, w := range words {
				has[w] = true
			}
			for _, w := range tt.want {
				if !has[w] {
					t.Errorf("command line %q lacks %q", words, w)
				}
			}
			for _, w := range tt.not {
				if has[w] {
					t.Errorf("command line %q has %q", words, w)
				}
			}
		})
	}
}

func TestVsockNeedsDevice(t *testing.T) {
	err := checkVsock(filepath.Join(t.TempDir(), "vhost-vsock"))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "virtio-serial") {
		t.Errorf("checkVsock without a device = %v, want ErrConfig suggesting virtio-serial", err)
	}
}

func TestNextCIDDistinct(t *testing.T) {
	a, b := nextCID(), nextCID()
	if a < 3 || b < 3 || a == b {
		t.Errorf("nextCID = %d, %d; want distinct CIDs >= 3", a, b)
	}
}

func TestSweepStale(t *testing.T) {
	parent := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	live, dead, foreign, other := mk("osbuild-vm-live"), mk("osbuild-vm-dead"), mk("osbuild-vm-nolock"), mk("unrelated")
	held, err := lockDir(live)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	released, err := lockDir(dead)
	if err != nil {
		t.Fatal(err)
	}
	released.Close()
	if _, err := lockDir(live); err == nil {
		t.Error("a second lockDir on a held directory succeeded")
	}
	if err := sweepStale(parent); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir  string
		want bool
	}{{live, true}, {dead, false}, {foreign, true}, {other, true}} {
		if _, err := os.Stat(tt.dir); (err == nil) != tt.want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(tt.dir), err == nil, tt.want)
		}
	}
}
