package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// maxSpecSize bounds the spec file the runner wrote.
const maxSpecSize = 16 << 20

// Main runs the setup process: args are os.Args. It returns the exit code
// for main to exit with: the stage's exit status, 128+signal when a signal
// ended it, or SetupFailed when the stage never started.
func Main(args []string) int {
	// Capabilities are per thread: dropping them and forking the stage
	// must happen on the same one.
	runtime.LockOSThread()
	status := os.NewFile(StatusFD, "status")
	// A handler (not SIG_IGN, which exec would pass on to the stage) keeps
	// the group's SIGTERM from ending PID 1 before the stage.
	signal.Notify(make(chan os.Signal, 1), unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	pid, err := start(args)
	if err != nil {
		report(status, err)
		return SetupFailed
	}
	status.Close()
	return reap(pid)
}

func start(args []string) (int, error) {
	if len(args) != 3 || args[1] != SetupArg {
		return 0, jsoncomm.Errorf(jsoncomm.ErrInvalid, "stage setup: usage: %s SPEC", SetupArg)
	}
	data, err := readBounded(args[2], maxSpecSize)
	if err != nil {
		return 0, fmt.Errorf("stage setup: read spec: %w", err)
	}
	spec, err := decodeSpec(data)
	if err != nil {
		return 0, jsoncomm.Errorf(jsoncomm.ErrInvalid, "stage setup: decode spec: %v", err)
	}
	if err := build(spec); err != nil {
		return 0, fmt.Errorf("stage setup: %w", err)
	}
	if err := dropCapabilities(); err != nil {
		return 0, fmt.Errorf("stage setup: %w", err)
	}
	return startStage(spec)
}

func startStage(spec *Spec) (int, error) {
	null, err := os.Open("/dev/null")
	if err != nil {
		return 0, fmt.Errorf("start stage: %w", err)
	}
	defer null.Close()
	p, err := os.StartProcess(spec.Bin, []string{spec.Bin}, &os.ProcAttr{
		Dir:   "/",
		Env:   spec.Env,
		Files: []*os.File{null, os.Stdout, os.Stderr},
	})
	if err != nil {
		return 0, fmt.Errorf("start stage %s: %w", spec.Bin, classify(err))
	}
	return p.Pid, nil
}

// reap waits for every child until the stage itself ends, and returns its
// status as an exit code.
func reap(stage int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return SetupFailed
		}
		if pid != stage {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

func report(status *os.File, err error) {
	data, _ := json.Marshal(jsoncomm.FromError(err))
	status.Write(data)
	status.Close()
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: over %d bytes: %w", path, limit, jsoncomm.ErrTooLarge)
	}
	return data, err
}

// classify gives file errors the channel's error classes.
func classify(err error) error {
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("%w: %w", err, jsoncomm.ErrNotFound)
	case os.IsPermission(err):
		return fmt.Errorf("%w: %w", err, jsoncomm.ErrPermission)
	}
	return err
}
