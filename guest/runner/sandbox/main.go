package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// MaxSpecSize bounds the spec the runner writes to the setup process's
// standard input.
const MaxSpecSize = 16 << 20

// Builtin finds the built-in stage that argv0 (a Bin path) names. run
// runs it in the calling process and returns its exit code, as the stage
// executable would exit; ok is false when argv0 names no built-in.
type Builtin func(argv0 string) (run func() int, ok bool)

// Main runs the setup process: args are os.Args, the Spec arrives as JSON
// on standard input. A process may be started long before its spec
// (the runner keeps spares): it only reads once it is needed, and exits
// quietly with 0 when its input ends without a spec. With args[2], an
// empty directory, it first builds there what needs no spec (see ahead).
//
// builtin, when not nil, lets a Spec with InProcess run its built-in stage
// right here after the root is entered, instead of executing the same
// binary again. Main returns the exit code for main to exit with: the
// stage's exit status, 128+signal when a signal ended it, or SetupFailed
// when the stage never started.
func Main(args []string, builtin Builtin) int {
	// Capabilities are per thread: dropping them and forking the stage
	// must happen on the same one.
	runtime.LockOSThread()
	// Only 0-2 and the status pipe are the runner's; anything else came
	// from the agent's own parent and is no business of the stage.
	unix.CloseRange(StatusFD+1, math.MaxUint32, 0)
	status := os.NewFile(StatusFD, "status")
	// The stage must not inherit the status pipe: it could forge a setup
	// error, and the runner could not tell the stage started.
	unix.CloseOnExec(StatusFD)
	// A handler (not SIG_IGN, which exec would pass on to the stage) keeps
	// the group's SIGTERM from ending PID 1 before the stage.
	signal.Notify(make(chan os.Signal, 1), unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	if len(args) < 2 || len(args) > 3 || args[1] != SetupArg {
		report(status, jsoncomm.Errorf(jsoncomm.ErrInvalid, "stage setup: usage: %s [AHEAD-DIR] < SPEC", SetupArg))
		return SetupFailed
	}
	restricted := capabilitiesCut()
	var pre *ahead
	if len(args) == 3 {
		pre = prepareAhead(args[2])
	}
	data, err := readBounded(os.Stdin, MaxSpecSize)
	if err == nil && len(data) == 0 {
		status.Close()
		return 0 // a spare that was never used
	}
	spec, err := setup(data, err, pre, restricted)
	if err != nil {
		report(status, err)
		return SetupFailed
	}
	if run, ok := inProcess(spec, builtin, restricted); ok {
		started(status)
		return finish(status, spec, run())
	}
	pid, err := startStage(spec)
	if err != nil {
		report(status, err)
		return SetupFailed
	}
	started(status)
	return finish(status, spec, reap(pid))
}

// setup decodes the spec, builds the stage's root and enters it. Unless
// the runner did already (restricted), it cuts this thread's capability
// bounding set, which an executed stage inherits.
func setup(data []byte, readErr error, pre *ahead, restricted bool) (*Spec, error) {
	if readErr != nil {
		return nil, fmt.Errorf("stage setup: read spec: %w", readErr)
	}
	spec, err := decodeSpec(data)
	if err != nil {
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "stage setup: decode spec: %v", err)
	}
	if err := build(spec, pre); err != nil {
		return nil, fmt.Errorf("stage setup: %w", err)
	}
	if err := nullStdin(); err != nil {
		return nil, fmt.Errorf("stage setup: %w", err)
	}
	if restricted {
		return spec, nil
	}
	if err := DropBoundingSet(); err != nil {
		return nil, fmt.Errorf("stage setup: %w", err)
	}
	return spec, nil
}

// nullStdin replaces standard input (the spec pipe) by the root's
// /dev/null, which is what the stage reads.
func nullStdin() error {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/null: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Dup3(fd, 0, 0); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	return nil
}

func startStage(spec *Spec) (int, error) {
	p, err := os.StartProcess(spec.Bin, []string{spec.Bin}, &os.ProcAttr{
		Dir:   "/",
		Env:   spec.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
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

// started tells the runner the stage started. The status pipe stays open
// for finish; an executed stage does not inherit it (close-on-exec).
func started(status *os.File) {
	status.WriteString(StatusStarted)
}

// finish ends every process left in the namespace, unmounts the stage's
// mounts, closes the stage's output and reports its exit code, all before
// this process exits: the runner has the stage's result without waiting
// for the exit and the namespaces' teardown, and nothing of the stage
// runs any more when it does. A stage whose file systems could not be
// unmounted failed, whatever it returned.
func finish(status *os.File, spec *Spec, code int) int {
	endAll()
	if err := unmountAll(spec); err != nil {
		reportUnmount(err)
		if code == 0 {
			code = 1
		}
	}
	os.Stdout.Close()
	os.Stderr.Close()
	status.WriteString(StatusExit + strconv.Itoa(code))
	status.Close()
	return code
}

// endAll kills every other process of the namespace (kill(-1) from its
// PID 1) and reaps them all, orphans included, until none is left.
func endAll() {
	for {
		unix.Kill(-1, unix.SIGKILL)
		_, err := unix.Wait4(-1, nil, 0, nil)
		if err == unix.ECHILD {
			return
		}
		if err != nil && err != unix.EINTR {
			return
		}
	}
}

func report(status *os.File, err error) {
	data, _ := json.Marshal(jsoncomm.FromError(err))
	status.Write(data)
	status.Close()
}

// readBounded reads r to its end, at most limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("spec over %d bytes: %w", limit, jsoncomm.ErrTooLarge)
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
