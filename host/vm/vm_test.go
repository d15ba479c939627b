package vm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// shares makes a read-only share holding host.txt and a writable one, both
// inside work.
func shares(t *testing.T, work string) []vm.Share {
	t.Helper()
	ro, rw := filepath.Join(work, "ro"), filepath.Join(work, "rw")
	for _, d := range []string{ro, rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ro, "host.txt"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []vm.Share{{Tag: "input", Dir: ro, ReadOnly: true}, {Tag: "scratch", Dir: rw}}
}

func start(t *testing.T, arch, work string) *vm.VM {
	t.Helper()
	b := vmtest.Boot(t, arch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := vm.Start(ctx, vm.Config{Arch: arch, Kernel: b.Kernel.Image, Initrd: b.Initrd,
		Shares: shares(t, work), WorkDir: work, BootTimeout: time.Minute})
	if err != nil {
		t.Fatalf("start %s vm: %v", arch, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console of the %s vm:\n%s", arch, v.ConsoleTail(40))
		}
		v.Close()
	})
	return v
}

func TestBootAndShares(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			work := t.TempDir()
			v := start(t, arch, work)
			c := v.Client()
			ctx := context.Background()
			if p := c.Peer(); p.Arch != arch {
				t.Errorf("agent hello arch %q, want %q", p.Arch, arch)
			}
			if err := c.Call(ctx, jsoncomm.MethodPing, jsoncomm.Empty{}, nil, nil); err != nil {
				t.Fatalf("ping: %v", err)
			}
			var data jsoncomm.FileData
			err := c.Call(ctx, jsoncomm.MethodReadFile, jsoncomm.ReadFileParams{Path: jsoncomm.SharesDir + "/input/host.txt"}, &data, nil)
			if err != nil || string(data.Data) != "from the host" {
				t.Errorf("read through ro share = %q, %v", data.Data, err)
			}
			err = c.Call(ctx, jsoncomm.MethodReadFile, jsoncomm.ReadFileParams{Path: jsoncomm.SharesDir + "/input/absent"}, &data, nil)
			if !errors.Is(err, jsoncomm.ErrNotFound) {
				t.Errorf("read of a missing file = %v, want ErrNotFound", err)
			}
			write := func(p string) error {
				return c.Call(ctx, jsoncomm.MethodWriteFile, jsoncomm.WriteFileParams{Path: jsoncomm.SharesDir + p, Data: []byte("from the guest"), Mode: 0o644}, nil, nil)
			}
			if err := write("/input/guest.txt"); !errors.Is(err, jsoncomm.ErrPermission) {
				t.Errorf("write to ro share = %v, want ErrPermission", err)
			}
			if err := write("/scratch/guest.txt"); err != nil {
				t.Errorf("write to rw share: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(work, "rw", "guest.txt")); err != nil || string(b) != "from the guest" {
				t.Errorf("guest's file on the host = %q, %v", b, err)
			}
			if st, err := v.Status(ctx); err != nil || st != "running" {
				t.Errorf("Status = %q, %v", st, err)
			}
			shutdownClean(t, v, work)
		})
	}
}

// shutdownClean powers v off and checks that it went by itself, that Wait
// agrees from several goroutines, and that nothing is left behind.
func shutdownClean(t *testing.T, v *vm.VM, work string) {
	t.Helper()
	if err := v.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- v.Wait() }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Wait after power-off: %v", err)
		}
	}
	tm := v.Timings()
	if tm.QEMUStarted <= 0 || tm.AgentReady < tm.QEMUStarted || tm.Exited < tm.AgentReady {
		t.Errorf("timings out of order: %+v", tm)
	}
	if err := v.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	assertNothingLeft(t, work)
}

// assertNothingLeft checks that no process mentions work on its command
// line (QEMU's sockets and virtiofsd's shares live there) and that the
// VM's temporary directory is gone.
func assertNothingLeft(t *testing.T, work string) {
	t.Helper()
	if pids := vmtest.ProcessesMentioning(work); len(pids) > 0 {
		t.Errorf("processes still running: %v", pids)
	}
	left, _ := filepath.Glob(filepath.Join(work, "osbuild-vm-*"))
	if len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

func TestBootTimeout(t *testing.T) {
	b := vmtest.Boot(t, "amd64")
	work := t.TempDir()
	start := time.Now()
	_, err := vm.Start(context.Background(), vm.Config{Arch: "amd64", Kernel: b.Kernel.Image, Initrd: b.Initrd,
		Shares: shares(t, work), WorkDir: work, BootTimeout: time.Second})
	if !errors.Is(err, vm.ErrBootTimeout) {
		t.Fatalf("Start = %v, want ErrBootTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 1 s boot timeout took %v", d)
	}
	for _, want := range []string{"within 1s", "last console lines", "--accel tcg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	assertNothingLeft(t, work)
}

func TestQEMUExitsEarly(t *testing.T) {
	vmtest.RequireQEMU(t, "amd64")
	work := t.TempDir()
	junk := filepath.Join(work, "not-a-kernel")
	if err := os.WriteFile(junk, []byte("this is not a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := vm.Start(context.Background(), vm.Config{Arch: "amd64", Kernel: junk, Initrd: junk, WorkDir: work, BootTimeout: 30 * time.Second})
	if !errors.Is(err, vm.ErrExited) {
		t.Fatalf("Start = %v, want ErrExited", err)
	}
	if !strings.Contains(err.Error(), "qemu said") {
		t.Errorf("error does not quote QEMU: %v", err)
	}
	assertNothingLeft(t, work)
}

func TestStartRejectsConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name string
		cfg  vm.Config
	}{
		{"arch", vm.Config{Arch: "riscv64", Kernel: file, Initrd: file}},
		{"no kernel", vm.Config{Arch: "amd64", Kernel: filepath.Join(dir, "absent"), Initrd: file}},
		{"kernel is a directory", vm.Config{Arch: "amd64", Kernel: dir, Initrd: file}},
		{"duplicate tag", vm.Config{Arch: "amd64", Kernel: file, Initrd: file, Shares: []vm.Share{{Tag: "a", Dir: dir}, {Tag: "a", Dir: dir}}}},
		{"channel", vm.Config{Arch: "amd64", Kernel: file, Initrd: file, Channel: "tcp"}},
		{"long work dir", vm.Config{Arch: "amd64", Kernel: file, Initrd: file, Accel: "tcg", WorkDir: longDir(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := vm.Start(context.Background(), tt.cfg); !errors.Is(err, vm.ErrConfig) {
				t.Errorf("Start = %v, want ErrConfig", err)
			}
		})
	}
}

// longDir is a directory whose path leaves no room for socket names.
func longDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
