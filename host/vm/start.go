package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/accel"
	"github.com/osbuild-vm/osbuild-vm/host/proc"
	"github.com/osbuild-vm/osbuild-vm/host/qemu"
	"github.com/osbuild-vm/osbuild-vm/host/virtiofsd"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// maxSocketPath is what fits sockaddr_un's sun_path with its NUL.
const maxSocketPath = 107

// VM is a running build VM.
type VM struct {
	cfg     Config
	accel   accel.Accel
	dir     string
	console *console
	qemu    *proc.Process
	fsd     []*virtiofsd.Daemon
	client  *jsoncomm.Client
	cleanup cleanups
	stop    context.CancelFunc // ends the processes' context
	cid     uint32             // guest CID when the channel is vsock

	monOnce sync.Once
	mon     *qemu.Monitor
	monErr  error

	tmu     sync.Mutex
	timings Timings
	exited  chan struct{} // closed once QEMU is gone and Timings.Exited is set
}

// Timings are the durations of a VM's phases, each from the call to Start.
type Timings struct {
	Started time.Time
	// QEMUStarted: shares and QEMU process running.
	QEMUStarted time.Duration
	// AgentReady: the agent's hello received.
	AgentReady time.Duration
	// Exited: QEMU gone (zero while it runs).
	Exited time.Duration
}

// Start boots a VM and returns when its agent has said hello. ctx bounds
// the boot only; the VM lives until Shutdown or Close. On error nothing is
// left running and the error carries the console's last lines.
func Start(ctx context.Context, cfg Config) (*VM, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a, err := accel.Choose(accel.Host{}, cfg.Accel, cfg.Arch)
	if err != nil {
		return nil, fmt.Errorf("start vm: %w", err)
	}
	v := &VM{cfg: cfg, accel: a, timings: Timings{Started: time.Now()}, exited: make(chan struct{})}
	if cfg.Channel == ChannelVsock {
		if err := checkVsock(vhostVsock); err != nil {
			return nil, err
		}
		v.cid = nextCID()
	}
	if err := v.boot(ctx); err != nil {
		return nil, errors.Join(err, v.Close())
	}
	return v, nil
}

func (v *VM) boot(ctx context.Context) error {
	sweepStale(workParent(v.cfg.WorkDir)) // best effort: leftovers of killed runs
	dir, err := os.MkdirTemp(v.cfg.WorkDir, "osbuild-vm-")
	if err != nil {
		return fmt.Errorf("start vm: %w", err)
	}
	v.dir = dir
	v.cleanup.push(func(context.Context) error { return os.RemoveAll(dir) })
	lock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("start vm: lock %s: %w", dir, err)
	}
	v.cleanup.push(func(context.Context) error { return lock.Close() })
	if len(v.path("console.sock")) > maxSocketPath {
		return fmt.Errorf("start vm: work directory %s is too long for unix sockets (%d bytes max); set TMPDIR or WorkDir to a shorter path: %w", dir, maxSocketPath, ErrConfig)
	}
	bin, err := qemuBinary(v.cfg)
	if err != nil {
		return err
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	v.stop = stop
	v.cleanup.push(func(context.Context) error { stop(); return nil })
	if err := v.startShares(life); err != nil {
		return err
	}
	control, err := v.startQEMU(life, bin)
	if err != nil {
		return err
	}
	return v.awaitAgent(ctx, control)
}

func workParent(dir string) string {
	if dir == "" {
		return os.TempDir()
	}
	return dir
}

func qemuBinary(cfg Config) (string, error) {
	name, err := qemu.Binary(cfg.Arch)
	if err != nil {
		return "", err
	}
	if cfg.QEMU != "" {
		name = cfg.QEMU
	}
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := map[string]string{"amd64": "qemu-system-x86", "arm64": "qemu-system-arm"}[cfg.Arch]
		return "", fmt.Errorf("find %s: %w; install the Debian package %s: %w", name, err, pkg, ErrNotInstalled)
	}
	return p, nil
}

// startShares starts one virtiofsd per share, logging to virtiofsd.log.
func (v *VM) startShares(ctx context.Context) error {
	if len(v.cfg.Shares) == 0 {
		return nil
	}
	log, err := os.Create(filepath.Join(v.dir, "virtiofsd.log"))
	if err != nil {
		return fmt.Errorf("start vm: %w", err)
	}
	v.cleanup.push(func(context.Context) error { return log.Close() })
	for i, s := range v.cfg.Shares {
		d, err := virtiofsd.Start(ctx, virtiofsd.Options{
			Binary: v.cfg.Virtiofsd, Socket: v.path("fs-" + strconv.Itoa(i) + ".sock"),
			Dir: s.Dir, ReadOnly: s.ReadOnly, Cache: v.cfg.ShareCache, Log: log,
		})
		if errors.Is(err, virtiofsd.ErrNotInstalled) {
			return fmt.Errorf("share %s: %w: %w", s.Tag, err, ErrNotInstalled)
		}
		if err != nil {
			return fmt.Errorf("share %s: %w", s.Tag, err)
		}
		v.fsd = append(v.fsd, d)
		v.cleanup.push(func(context.Context) error { return d.Stop(2 * time.Second) })
	}
	return nil
}

func (v *VM) path(name string) string { return filepath.Join(v.dir, name) }

// listen makes a unix socket in the VM's directory; cleanup closes it.
func (v *VM) listen(name string) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: v.path(name), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("start vm: %w", err)
	}
	v.cleanup.push(func(context.Context) error { ln.Close(); return nil })
	return ln, nil
}

// startQEMU starts QEMU with the console and control sockets already
// listening, and returns the control listener.
func (v *VM) startQEMU(ctx context.Context, bin string) (*net.UnixListener, error) {
	consLn, err := v.listen("console.sock")
	if err != nil {
		return nil, err
	}
	if v.console, err = newConsole(v.path("console.log")); err != nil {
		return nil, fmt.Errorf("start vm: %w", err)
	}
	v.cleanup.push(func(context.Context) error { return v.console.closeFile() })
	go v.console.serve(consLn)
	control, err := v.listen("control.sock")
	if err != nil {
		return nil, err
	}
	args, err := qemu.Args(v.qemuConfig())
	if err != nil {
		return nil, fmt.Errorf("start vm: %w", err)
	}
	if err := v.runQEMU(ctx, bin, args); err != nil {
		return nil, err
	}
	return control, nil
}

func (v *VM) qemuConfig() qemu.Config {
	c := qemu.Config{
		Arch: v.cfg.Arch, Accel: v.accel, MemoryMiB: v.cfg.MemoryMiB, CPUs: v.cfg.CPUs,
		Kernel: v.cfg.Kernel, Initrd: v.cfg.Initrd, Append: kernelCmdline(v.cfg, v.accel),
		Console: v.path("console.sock"), QMP: v.path("qmp.sock"), Control: v.path("control.sock"),
	}
	if v.cfg.Channel == ChannelVsock {
		c.Control, c.VsockCID = "", v.cid
	}
	for i, s := range v.cfg.Shares {
		c.Shares = append(c.Shares, qemu.Share{Tag: s.Tag, Socket: v.path("fs-" + strconv.Itoa(i) + ".sock")})
	}
	return c
}

func (v *VM) runQEMU(ctx context.Context, bin string, args []string) error {
	log, err := os.Create(v.path("qemu.log"))
	if err != nil {
		return fmt.Errorf("start vm: %w", err)
	}
	v.cleanup.push(func(context.Context) error { return log.Close() })
	cmd := proc.Command(ctx, 5*time.Second, bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	p, err := proc.Start(cmd)
	if err != nil {
		return fmt.Errorf("start vm: %w", err)
	}
	v.qemu = p
	v.cleanup.push(func(context.Context) error { return p.Stop(3 * time.Second) })
	v.mark(func(t *Timings, d time.Duration) { t.QEMUStarted = d })
	go func() {
		p.Wait()
		v.mark(func(t *Timings, d time.Duration) { t.Exited = d })
		close(v.exited)
	}()
	return nil
}

func (v *VM) mark(set func(*Timings, time.Duration)) {
	v.tmu.Lock()
	set(&v.timings, time.Since(v.timings.Started))
	v.tmu.Unlock()
}

// qemuLog returns the start of QEMU's own output (its errors), bounded.
func (v *VM) qemuLog() string {
	f, err := os.Open(v.path("qemu.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	return clean(bytes.ReplaceAll(bytes.TrimSpace(b), []byte("\n"), []byte("; ")))
}
