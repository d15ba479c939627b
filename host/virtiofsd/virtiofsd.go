// Package virtiofsd runs one C virtiofsd (Debian's qemu-system-common) per
// shared directory, as root or as a plain user.
//
// The host creates each listening vhost-user socket itself and hands it to
// virtiofsd as --fd=3: the socket exists before QEMU starts (no waiting for
// it to appear), and virtiofsd needs no pid-lock directory under /var/run,
// which a plain user cannot create.
//
// virtiofsd 7.2 has no read-only option, so a read-only share is enforced on
// the host side: virtiofsd runs in its own mount namespace in which the
// shared directory is bind-mounted read-only over itself. The guest mounts
// it read-only as well, but does not have to be trusted to.
//
// As a plain user, virtiofsd runs inside "unshare --map-auto
// --map-root-user --mount": it calls setgroups and so needs a full
// subordinate id range (the uidmap package and /etc/subuid, /etc/subgid
// entries); plain "unshare -r" is not enough.
package virtiofsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/proc"
)

// DefaultBinary is where Debian's qemu-system-common installs virtiofsd.
const DefaultBinary = "/usr/lib/qemu/virtiofsd"

// DefaultCache is virtiofsd's cache mode. "none" makes the guest bypass
// its page cache (FUSE direct I/O): under TCG every guest-side copy runs
// emulated, so streaming a tree archive through a share is 2-3x faster
// without it. Measured here (amd64 TCG, 45 MB tar of 3434 files, tree.open
// from a read-only share, tree.save to a writable one, two rounds under
// load): none 3.7-4.8 s / 4.4-4.7 s, auto 11.0-14.1 s / 7.2-11.4 s,
// always 7.1-14.6 s / 7.2-17.2 s. The cost: files on a share cannot be
// mapped MAP_SHARED in the guest (private mappings, as exec uses, work).
const DefaultCache = "none"

// Errors callers branch on.
var (
	ErrNotInstalled = errors.New("virtiofsd not installed")
	ErrNoSubIDs     = errors.New("no subordinate ids for rootless virtiofsd")
	ErrExited       = errors.New("virtiofsd exited")
)

// Options describe one share's daemon.
type Options struct {
	// Binary is virtiofsd's path; empty means Find.
	Binary string
	// Socket is the path of the vhost-user socket to create for QEMU.
	Socket string
	// Dir is the shared directory.
	Dir      string
	ReadOnly bool
	// Cache is virtiofsd's cache mode; empty means DefaultCache.
	Cache string
	// Rootless runs virtiofsd in a user namespace; Start sets it when the
	// effective uid is not 0.
	Rootless bool
	// Log receives virtiofsd's stderr; nil discards it.
	Log io.Writer
}

// Daemon is a running virtiofsd.
type Daemon struct {
	Socket string
	proc   *proc.Process
}

// Find returns virtiofsd's path, or an error naming the package to install.
func Find() (string, error) {
	if _, err := os.Stat(DefaultBinary); err == nil {
		return DefaultBinary, nil
	}
	if p, err := exec.LookPath("virtiofsd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("find %s: %w; install the Debian package qemu-system-common", DefaultBinary, ErrNotInstalled)
}

// Start creates the socket and starts virtiofsd on it. The daemon ends when
// ctx ends (SIGTERM, then SIGKILL), or with Stop.
func Start(ctx context.Context, o Options) (*Daemon, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, err
	}
	ln, err := listen(o.Socket)
	if err != nil {
		return nil, err
	}
	defer ln.Close() // the daemon holds its own copy
	name, args := Command(o)
	cmd := proc.Command(ctx, 2*time.Second, name, args...)
	cmd.ExtraFiles = []*os.File{ln}
	cmd.Stderr = o.Log
	p, err := proc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("virtiofsd for %s: %w", o.Dir, err)
	}
	return &Daemon{Socket: o.Socket, proc: p}, nil
}

func (o Options) resolve() (Options, error) {
	if o.Binary == "" {
		b, err := Find()
		if err != nil {
			return o, err
		}
		o.Binary = b
	}
	if o.Cache == "" {
		o.Cache = DefaultCache
	}
	if os.Geteuid() != 0 {
		o.Rootless = true
	}
	if strings.ContainsAny(o.Dir, ",\\") {
		return o, fmt.Errorf("share %q: virtiofsd cannot take ',' or '\\' in a path; use another directory", o.Dir)
	}
	if fi, err := os.Stat(o.Dir); err != nil || !fi.IsDir() {
		return o, fmt.Errorf("share %q: not a directory: %v", o.Dir, err)
	}
	if o.Rootless {
		return o, checkSubIDs()
	}
	return o, nil
}

// listen creates the unix socket and returns it as a file to pass on.
func listen(path string) (*os.File, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	return f, nil
}

// Done is closed when the daemon has exited.
func (d *Daemon) Done() <-chan struct{} { return d.proc.Done() }

// Err says how the daemon ended, wrapped in ErrExited, or nil while it runs.
func (d *Daemon) Err() error {
	if !d.proc.Exited() {
		return nil
	}
	return fmt.Errorf("%w: %v", ErrExited, d.proc.Wait())
}

// Stop asks the daemon to exit and kills it after grace.
func (d *Daemon) Stop(grace time.Duration) error { return d.proc.Stop(grace) }
