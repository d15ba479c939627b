package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// startTree starts a shell that runs a background grandchild and prints its
// pid, so tests can check that the whole group goes.
func startTree(t *testing.T, ctx context.Context, script string) (*Process, int) {
	t.Helper()
	cmd := Command(ctx, 200*time.Millisecond, "/bin/sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatal(err)
	}
	return p, child
}

func TestStopKillsGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{"terminates", "sleep 30 & echo $!; wait"},
		{"ignores SIGTERM", "trap '' TERM; sleep 30 & echo $!; while :; do sleep 1; done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, child := startTree(t, context.Background(), tt.script)
			if !alive(child) {
				t.Fatalf("grandchild %d not running", child)
			}
			start := time.Now()
			if err := p.Stop(300 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Stop took %v", d)
			}
			waitGone(t, child)
		})
	}
}

func TestContextCancelStopsGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, child := startTree(t, ctx, "trap '' TERM; sleep 30 & echo $!; while :; do sleep 1; done")
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("process survived its context")
	}
	if err := p.Wait(); err == nil {
		t.Error("Wait after cancel returned nil, want the kill")
	}
	waitGone(t, child)
}

func TestWaitFromSeveralGoroutines(t *testing.T) {
	p, err := Start(exec.Command("/bin/sh", "-c", "exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- p.Wait() }()
	}
	for range 3 {
		var ee *exec.ExitError
		if err := <-errs; !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("Wait = %v, want exit status 3", err)
		}
	}
	if !p.Exited() {
		t.Error("Exited = false after Wait")
	}
}

func TestStartMissingBinary(t *testing.T) {
	_, err := Start(exec.Command("/nonexistent/binary"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start = %v, want ErrNotExist", err)
	}
}

func TestPdeathsigSet(t *testing.T) {
	cmd := exec.Command("/bin/true")
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL || !cmd.SysProcAttr.Setpgid {
		t.Errorf("SysProcAttr = %+v, want Pdeathsig SIGKILL and Setpgid", cmd.SysProcAttr)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 100 {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d still running", pid)
}
