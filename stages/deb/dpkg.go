package deb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dpkgEnv is the environment of dpkg and the maintainer scripts it runs:
// mmdebstrap's (noninteractive debconf, C.UTF-8), a fixed PATH, and
// SOURCE_DATE_EPOCH when the manifest sets source-epoch. Nothing of the
// guest's own environment reaches them.
func dpkgEnv(epoch string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true",
		"LC_ALL=C.UTF-8", "LANGUAGE=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC", "HOME=/root",
	}
	if epoch != "" {
		env = append(env, "SOURCE_DATE_EPOCH="+epoch)
	}
	return env
}

// progress turns dpkg's status-fd and maintainer-script debug lines into
// "[i/n]" lines on stdout.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	total int
	done  map[string]bool
}

func newProgress(out io.Writer, total int) *progress {
	return &progress{out: out, total: total, done: map[string]bool{}}
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", args...)
}

// status reads dpkg --status-fd lines ("status: PKG: STATE") and counts
// the packages that reached "installed".
func (p *progress) status(r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.SplitN(s.Text(), ": ", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "status" && f[2] == "installed":
			name, _, _ := strings.Cut(f[1], ":")
			p.mu.Lock()
			p.done[name] = true
			n := len(p.done)
			p.mu.Unlock()
			p.printf("deb: [%d/%d] %s configured", n, p.total, name)
		}
	}
	io.Copy(io.Discard, r)
}

// scripts passes dpkg's stderr through, rewriting its maintainer-script
// debug lines ("D000002: fork/exec /var/lib/dpkg/info/x.postinst ( configure )")
// into "deb: running x.postinst configure".
func (p *progress) scripts(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if rest, ok := strings.CutPrefix(line, "D000002: "); ok {
			if script, ok := strings.CutPrefix(rest, "fork/exec /var/lib/dpkg/info/"); ok {
				script = strings.NewReplacer("(", "", ")", "").Replace(script)
				p.printf("deb: running %s", strings.Join(strings.Fields(script), " "))
			}
			continue
		}
		p.printf("%s", line)
	}
	io.Copy(io.Discard, r)
}

// runDpkg runs the tree's own dpkg chrooted into the tree.
func runDpkg(ctx context.Context, tree, epoch string, prog *progress, what string, args ...string) error {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "/usr/bin/dpkg", append([]string{"--status-fd=3", "--debug=2"}, args...)...)
	cmd.Dir = "/"
	cmd.Env = dpkgEnv(epoch)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: tree, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer statusR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		statusW.Close()
		return err
	}
	defer errR.Close()
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.Stderr = errW
	err = cmd.Start()
	statusW.Close()
	errW.Close()
	if err != nil {
		return fmt.Errorf("run dpkg in the tree: %w", err)
	}
	readers := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); prog.status(statusR) }()
		go func() { defer wg.Done(); prog.scripts(errR) }()
		wg.Wait()
		close(readers)
	}()
	werr := cmd.Wait()
	// A daemon that a maintainer script left behind may hold the pipes
	// open: once dpkg is gone, give the readers a moment, then cut them.
	select {
	case <-readers:
	case <-time.After(2 * time.Second):
		statusR.Close()
		errR.Close()
		<-readers
	}
	if werr != nil {
		return fmt.Errorf("dpkg: %s: %w", what, werr)
	}
	prog.printf("deb: dpkg: %s: %.1fs", what, time.Since(start).Seconds())
	return nil
}

// runInTree runs a program of the tree, chrooted into it, with dpkg's
// environment; its output goes to the stage's.
func runInTree(ctx context.Context, tree, epoch, prog string, args ...string) error {
	return runScript(ctx, tree, dpkgEnv(epoch), prog, args...)
}

// runScript runs prog of the tree, chrooted into it, with env.
func runScript(ctx context.Context, tree string, env []string, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = "/"
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: tree, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s in the tree: %w", path.Base(prog), strings.Join(args, " "), err)
	}
	return nil
}
