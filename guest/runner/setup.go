package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"golang.org/x/sys/unix"
)

// setupProc is one setup process, started before its spec is known, and
// the pipes between it and the runner.
type setupProc struct {
	cmd *exec.Cmd
	// call is its call directory (see the package doc), removed with it.
	call     string
	spec     *os.File // its stdin: the spec, then EOF
	out, err *os.File
	status   *os.File
	// stop ends the process: its process group gets SIGTERM, its PID 1
	// SIGKILL after the kill grace. Wait returns once it is gone.
	stop context.CancelFunc
	// cg is its cgroup, nil when the runner has none.
	cg *cgroup
}

// spawn starts the guest binary as a setup process in new namespaces and
// its own process group, waiting for its spec. Stopping it (stop) ends
// every process of the stage, since the setup process is the PID
// namespace's init.
func (r *Runner) spawn() (*setupProc, error) {
	call, err := r.newCall()
	if err != nil {
		return nil, fmt.Errorf("start setup: %w", err)
	}
	files, err := pipes(4)
	if err != nil {
		os.RemoveAll(call)
		return nil, fmt.Errorf("start setup: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	sp := &setupProc{call: call, spec: files[0][1], out: files[1][0], err: files[2][0], status: files[3][0], stop: stop}
	cmd := exec.CommandContext(ctx, r.cfg.Self, sandbox.SetupArg, filepath.Join(call, "ahead"))
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0][0], files[1][1], files[2][1]
	cmd.ExtraFiles = []*os.File{files[3][1]}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// CLONE_NEWCGROUP: the stage sees its own cgroup as the root of
		// the hierarchy, not the limit set above it.
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP,
		Setpgid:    true,
		// No Pdeathsig: it fires when the forking OS thread exits, not the
		// agent. When the agent ends, the spec pipe's EOF ends a waiting
		// setup process, and the VM's end everything else.
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = r.cfg.KillGrace
	sp.cmd = cmd
	cgFile, err := r.intoCgroup(sp, filepath.Base(call))
	if err == nil {
		err = startCut(cmd)
		closeAll(cgFile)
	}
	closeAll(files[0][0], files[1][1], files[2][1], files[3][1])
	if err != nil {
		stop()
		sp.close()
		sp.cg.remove()
		os.RemoveAll(call)
		return nil, fmt.Errorf("start setup %s: %w", r.cfg.Self, classifyFS(err))
	}
	return sp, nil
}

// intoCgroup makes sp's cgroup, when the runner has cgroups, and has its
// command start in it. The returned file (nil without) is closed once the
// process started.
func (r *Runner) intoCgroup(sp *setupProc, name string) (*os.File, error) {
	if r.cfg.Cgroup == "" {
		return nil, nil
	}
	cg, f, err := newCgroup(r.cfg.Cgroup, "call-"+name, r.cfg.MaxProcesses)
	if err != nil {
		return nil, err
	}
	sp.cg = cg
	sp.cmd.SysProcAttr.UseCgroupFD = true
	sp.cmd.SysProcAttr.CgroupFD = int(f.Fd())
	return f, nil
}

// wait collects the process, then removes its cgroup with whatever of
// its stage is left.
func (sp *setupProc) wait() error {
	err := sp.cmd.Wait()
	sp.cg.remove()
	return err
}

// newCall makes the next call directory with its empty directories.
func (r *Runner) newCall() (string, error) {
	call := filepath.Join(r.cfg.WorkDir, "calls", strconv.FormatUint(r.calls.Add(1), 10))
	for _, d := range callDirs {
		if err := os.MkdirAll(filepath.Join(call, d), 0o700); err != nil {
			os.RemoveAll(call)
			return "", err
		}
	}
	return call, nil
}

// startCut starts cmd from an OS thread of its own whose capability
// bounding set is cut to what stages get (sandbox.DropBoundingSet): the
// setup process, all its threads, and so a built-in stage run in it, get
// only those from the exec, with no work in the setup process (cutting
// every thread of a running Go process costs tens of milliseconds under
// TCG). The thread is never unlocked, so Go ends it with the goroutine.
func startCut(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := sandbox.DropBoundingSet(); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// pipes makes n pipes, each as {read end, write end}.
func pipes(n int) ([][2]*os.File, error) {
	out := make([][2]*os.File, 0, n)
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			for _, p := range out {
				closeAll(p[0], p[1])
			}
			return nil, err
		}
		out = append(out, [2]*os.File{r, w})
	}
	return out, nil
}

// errSetupGone means a waiting setup process ended before it got its spec.
var errSetupGone = errors.New("setup process ended before its spec")

// send hands the process its spec; it starts setting up at the EOF.
func (sp *setupProc) send(spec []byte) error {
	if sp.ended() {
		return errSetupGone
	}
	_, err := sp.spec.Write(spec)
	if cerr := sp.spec.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EPIPE) {
		return errSetupGone
	}
	return err
}

// ended reports whether the process has ended, without collecting it.
func (sp *setupProc) ended() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, sp.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && info.Signo != 0
}

// discard ends a process that never got a spec and collects it.
func (sp *setupProc) discard() {
	sp.spec.Close()
	sp.stop()
	sp.wait()
	sp.close()
	os.RemoveAll(sp.call)
}

func (sp *setupProc) close() { closeAll(sp.spec, sp.out, sp.err, sp.status) }

func closeAll(files ...*os.File) {
	for _, f := range files {
		f.Close()
	}
}
