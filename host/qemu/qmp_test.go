package qemu

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestMonitorAgainstQEMU drives a machine-less QEMU over QMP: status, then
// quit, and checks that QEMU exits.
func TestMonitorAgainstQEMU(t *testing.T) {
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed (Debian package qemu-system-x86)")
	}
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	cmd := exec.Command(bin, "-M", "none", "-nodefaults", "-no-user-config", "-display", "none",
		"-chardev", "socket,id=qmp,path="+sock+",server=on,wait=off", "-mon", "chardev=qmp,mode=control")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := DialQMP(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.Status(ctx)
	if err != nil || st == "" {
		t.Fatalf("Status = %q, %v", st, err)
	}
	if err := m.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("QEMU still running after quit")
	}
}

func TestDialQMPGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := DialQMP(ctx, filepath.Join(t.TempDir(), "absent.sock")); err == nil {
		t.Fatal("DialQMP to a missing socket succeeded")
	}
}
