package runner

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

var (
	guestOnce sync.Once
	guestBin  string
	guestErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if guestBin != "" {
		os.RemoveAll(filepath.Dir(guestBin))
	}
	os.Exit(code)
}

// needRoot skips namespace and ownership tests for plain users: they need
// root as the agent has it in the guest.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("stage namespaces, mounts and tree owners need root (the guest agent's privilege)")
	}
}

// guestBinary builds testdata/guestbin once, static as the real guest binary.
func guestBinary(t testing.TB) string {
	t.Helper()
	guestOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		dir, err := os.MkdirTemp("", "runner-guestbin-")
		if err != nil {
			guestErr = err
			return
		}
		guestBin = filepath.Join(dir, "guestbin")
		cmd := exec.Command(gobin, "build", "-o", guestBin, "./testdata/guestbin")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			guestErr = &buildError{out: string(out), err: err}
		}
	})
	if guestErr != nil {
		t.Fatalf("build guestbin: %v", guestErr)
	}
	return guestBin
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// newRunner makes a runner with its own WorkDir.
func newRunner(t testing.TB) *Runner {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	// Plain users run only the tests that start no stage.
	self := "/nonexistent/guestbin"
	if os.Geteuid() == 0 {
		self = guestBinary(t)
		// A tmpfs, as the guest's /run/osbuild-vm/work.
		os.Mkdir(work, 0o700)
		if err := unix.Mount("tmpfs", work, "tmpfs", 0, "mode=0700"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(work, unix.MNT_DETACH) })
	}
	r, err := New(Config{WorkDir: work, Self: self, KillGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// client serves r on one end of a pipe and returns the host's end.
func client(t testing.TB, r *Runner) *jsoncomm.Client {
	t.Helper()
	h, g := net.Pipe()
	srv := jsoncomm.NewServer()
	r.Register(srv)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, g, jsoncomm.Hello{Agent: "test"}) }()
	c, err := jsoncomm.NewClient(ctx, h, jsoncomm.Hello{Agent: "host"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel(); <-served })
	return c
}

// busyboxApplets are linked into the test build root.
var busyboxApplets = []string{"sh", "cat", "echo", "ls", "sleep", "touch", "mkdir", "env", "printf", "test", "id", "rm", "wc", "grep", "true", "mke2fs"}

// buildRoot opens tree name as a tiny build root: the host's static
// busybox and its applets in /bin, and the API mount points.
func buildRoot(t testing.TB, c *jsoncomm.Client, r *Runner, name string) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("needs busybox-static at /bin/busybox for a build root: ", err)
	}
	openTree(t, c, name, "")
	dir := r.treeDir(name)
	for _, d := range []string{"bin", "dev", "proc", "sys", "run", "tmp", "etc"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
}

func openTree(t testing.TB, c *jsoncomm.Client, name, from string) jsoncomm.TreeInfo {
	t.Helper()
	var info jsoncomm.TreeInfo
	if err := c.Call(context.Background(), jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: name, From: from}, &info, nil); err != nil {
		t.Fatalf("tree.open %s: %v", name, err)
	}
	return info
}

// script writes a #!/bin/sh stage into a fresh "libdir" and returns its path.
func script(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "org.test.script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// logs collects a call's log lines.
type logs struct {
	mu    sync.Mutex
	lines []jsoncomm.Log
}

func (l *logs) add(m jsoncomm.Log) {
	l.mu.Lock()
	l.lines = append(l.lines, m)
	l.mu.Unlock()
}

// has says whether a whole line (text, then its newline) came on stream.
func (l *logs) has(stream, text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if m.Stream == stream && m.Text == text+"\n" {
			return true
		}
	}
	return false
}

func writeFile(p, content string) error { return os.WriteFile(p, []byte(content), 0o644) }
