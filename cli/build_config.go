package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/osbuild-vm/osbuild-vm/engine/monitor"
	"golang.org/x/sys/unix"
)

// execConfigFrom turns the parsed flags into what execute needs.
func execConfigFrom(opts *runOptions, stdout, stderr io.Writer) (execConfig, error) {
	mon, err := monitor.New(opts.Monitor, monitorWriter(opts, stdout, stderr))
	if err != nil {
		return execConfig{}, exitf(ExitInvalid, "--monitor: %v", err)
	}
	cfg := execConfig{
		ManifestPath: opts.ManifestName, StoreDir: opts.Store, OutputDir: opts.OutputDirectory,
		Checkpoints: opts.CheckpointIDs, Exports: opts.Exports, Libdirs: opts.Libdirs,
		Monitor: mon, JSON: opts.JSON, StageTimeout: opts.StageTimeout,
		Arch: opts.Arch, Accel: opts.Accel, MemoryMiB: int(opts.Memory >> 20), CPUs: opts.CPUs,
		Mirror: opts.Mirror, VMKernel: opts.VMKernel, Debug: os.Getenv("OSBUILD_VM_DEBUG") == "1",
		Remote: opts.Remote,
	}
	if opts.CacheMaxSet {
		size := opts.CacheMaxSize
		cfg.MaxSize = &size
	}
	return cfg, nil
}

// monitorWriter is where progress goes: --monitor-fd when it names
// another descriptor; otherwise human progress goes to stderr (stdout
// carries --json and artifacts' names) and JSON records to stdout, as
// osbuild's default fd.
func monitorWriter(opts *runOptions, stdout, stderr io.Writer) io.Writer {
	switch opts.MonitorFD {
	case 1:
		if opts.Monitor == "LogMonitor" {
			return stderr
		}
		return stdout
	case 2:
		return stderr
	}
	return fdWriter{fd: opts.MonitorFD, name: fmt.Sprintf("monitor-fd-%d", opts.MonitorFD)}
}

// fdWriter writes to a descriptor the process was handed and does not
// own. Unlike an *os.File it never closes it: an os.File made for the fd
// would close it when collected, under the feet of whoever owns it (a
// test running the CLI in-process, say).
type fdWriter struct {
	fd   int
	name string
}

func (w fdWriter) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(w.fd, p[done:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN { // a non-blocking descriptor: wait until it takes more
			unix.Poll([]unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLOUT}}, -1)
			continue
		}
		if err != nil {
			return done, &os.PathError{Op: "write", Path: w.name, Err: err}
		}
		done += n
	}
	return done, nil
}
