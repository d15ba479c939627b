package agent

import (
	"context"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/initramfs/modorder"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// serveDrain bounds how long calls in flight get to end after shutdown.
const serveDrain = 5 * time.Second

// agent is the worker's state once the VM is set up.
type agent struct {
	log     *logger
	cfg     Config
	modules []string
	shares  []jsoncomm.Share
	channel io.ReadWriteCloser
	// workDir is where the runner keeps trees: WorkDir in the guest.
	workDir string
	// cgroup is where the runner bounds each stage's processes; "" when
	// the cgroup file system could not be set up.
	cgroup string
	late   []modorder.Entry // modules loaded after the hello
	// lateDone is closed once loadLate returned.
	lateDone chan struct{}
}

// loadLate loads the modules nothing needs before the hello; a failure is
// logged, not fatal: only stages that use those drivers would miss them.
// Stages with devices or mounts wait for it (lateLoaded).
func (a *agent) loadLate() {
	defer close(a.lateDone)
	if _, err := loadEntries("/", a.late, timed(a.log, finitModule)); err != nil {
		a.log.errorf("%v", err)
		return
	}
	a.log.phase("loaded %d more modules", len(a.late))
}

// Main is the worker (see the package doc): it sets the VM up, serves the
// host until the host asks to shut down or closes the channel, unmounts the
// shares and returns the exit code for PID 1 to report. PID 1 powers off
// whatever Main returns.
func Main() int {
	l := &logger{w: os.Stderr}
	a, err := boot(context.Background(), l)
	if err != nil {
		l.errorf("boot: %v", err)
		return 1
	}
	err = a.serve(context.Background())
	unmountAll(l, a.shares)
	if err != nil {
		l.errorf("serve: %v", err)
		return 1
	}
	l.phase("shut down")
	return 0
}

// boot runs the setup phases in order, logging each.
func boot(ctx context.Context, l *logger) (*agent, error) {
	raw, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil, fmt.Errorf("read kernel command line: %w", err)
	}
	cfg, err := ParseCmdline(string(raw))
	if err != nil {
		return nil, err
	}
	l.debug = cfg.Debug
	l.phase("worker started at %.3fs, agent %s", started.Seconds(), Version)
	a := &agent{log: l, cfg: cfg, workDir: WorkDir}
	entries, err := readOrder("/")
	if err != nil {
		return nil, err
	}
	early, late := splitModules(entries, cfg.Channel)
	if a.modules, err = loadEntries("/", early, timed(l, finitModule)); err != nil {
		return nil, err
	}
	a.late = late
	l.phase("loaded %d modules (%d after ready)", len(a.modules), len(late))
	if err := mountWork(); err != nil {
		return nil, err
	}
	if a.cgroup, err = mountCgroup(); err != nil {
		l.errorf("stages run without a process limit: %v", err)
	}
	if a.shares, err = mountShares(cfg.Shares); err != nil {
		return nil, err
	}
	l.phase("mounted %s and %d shares", WorkDir, len(a.shares))
	if a.channel, err = openChannel(ctx, cfg); err != nil {
		return nil, err
	}
	l.phase("opened %s channel", cfg.Channel)
	return a, nil
}

// serve runs the jsoncomm session until shutdown or the channel's end.
func (a *agent) serve(ctx context.Context) error {
	fw := newFlushWatch(a.channel)
	stop := make(chan struct{})
	a.lateDone = make(chan struct{})
	request := once(stop)
	info := newInfo(kernelRelease(), a.modules, a.shares)
	info.BootMillis = uptime().Milliseconds()
	svc := &services{info: info, files: &fileService{shares: a.shares}, shutdown: func() { fw.arm(); request() }}
	srv := jsoncomm.NewServer()
	svc.register(srv)
	registerRunner(srv, a.log, a.workDir, a.cgroup, func() { <-a.lateDone })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, fw, jsoncomm.Hello{Agent: Version, Arch: runtime.GOARCH}) }()
	a.log.phase("ready after %d ms", info.BootMillis)
	go a.loadLate()
	select {
	case err := <-done:
		return err
	case <-stop:
	}
	fw.wait()
	cancel()
	select {
	case <-done:
	case <-time.After(serveDrain):
		a.log.errorf("calls still running %v after shutdown", serveDrain)
	}
	return nil
}
