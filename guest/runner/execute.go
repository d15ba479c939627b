package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// MaxMetadataSize bounds the metadata a stage may return.
const MaxMetadataSize = 1 << 20

// maxStatusSize bounds the setup process's error report.
const maxStatusSize = 64 << 10

// setupProc is one running setup process and the pipes it writes to.
type setupProc struct {
	cmd      *exec.Cmd
	out, err *os.File
	status   *os.File
}

// execute runs the setup process for spec, streams the stage's output,
// and turns how it ended into a result.
func (r *Runner) execute(ctx context.Context, p *jsoncomm.StageRunParams, spec, meta string, log func(jsoncomm.Log)) (jsoncomm.StageResult, error) {
	tctx, cancel := withTimeout(ctx, p.TimeoutSeconds)
	defer cancel()
	begin := time.Now()
	sp, err := r.startSetup(tctx, spec)
	if err != nil {
		return jsoncomm.StageResult{}, fmt.Errorf("stage %s: %w", p.Type, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); streamLines(sp.out, jsoncomm.StreamStdout, log) }()
	go func() { defer wg.Done(); streamLines(sp.err, jsoncomm.StreamStderr, log) }()
	status, _ := io.ReadAll(io.LimitReader(sp.status, maxStatusSize))
	waitErr := sp.cmd.Wait()
	wg.Wait()
	sp.close()
	res := jsoncomm.StageResult{Millis: time.Since(begin).Milliseconds(), ExitCode: sp.cmd.ProcessState.ExitCode()}
	if err := ended(ctx, tctx, p, status, waitErr); err != nil {
		return res, err
	}
	res.Success = res.ExitCode == 0
	md, err := readMetadata(meta)
	if err != nil {
		return res, fmt.Errorf("stage %s: %w", p.Type, err)
	}
	res.Metadata = md
	return res, nil
}

func withTimeout(ctx context.Context, seconds float64) (context.Context, context.CancelFunc) {
	if seconds <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(seconds*float64(time.Second)))
}

// startSetup starts the guest binary as the setup process in new
// namespaces and its own process group. When ctx ends, the group gets
// SIGTERM, and the namespace's PID 1 SIGKILL after the grace period, which
// ends every process of the stage.
func (r *Runner) startSetup(ctx context.Context, spec string) (*setupProc, error) {
	sp := &setupProc{}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW, errR, errW)
		return nil, err
	}
	sp.out, sp.err, sp.status = outR, errR, stR
	cmd := exec.CommandContext(ctx, r.cfg.Self, sandbox.SetupArg, spec)
	cmd.Env = []string{}
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = outW, errW, []*os.File{stW}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		Setpgid:    true,
		// No Pdeathsig: it fires when the forking OS thread exits, not the
		// agent, and the agent's own end ends the VM anyway.
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = r.cfg.KillGrace
	sp.cmd = cmd
	err = cmd.Start()
	closeAll(outW, errW, stW)
	if err != nil {
		sp.close()
		return nil, fmt.Errorf("start setup %s: %w", r.cfg.Self, classifyFS(err))
	}
	return sp, nil
}

func (sp *setupProc) close() { closeAll(sp.out, sp.err, sp.status) }

func closeAll(files ...*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// ended classifies how the setup process ended: a setup failure it
// reported, a timeout, a cancellation, or nil when the stage ran (whatever
// its exit code).
func ended(ctx, tctx context.Context, p *jsoncomm.StageRunParams, status []byte, waitErr error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("stage %s: %w", p.Type, ctx.Err())
	case tctx.Err() != nil:
		return fmt.Errorf("stage %s: no exit after %gs: %w", p.Type, p.TimeoutSeconds, jsoncomm.ErrTimeout)
	case len(status) > 0:
		var je jsoncomm.Error
		if json.Unmarshal(status, &je) != nil || je.Kind == "" {
			return fmt.Errorf("stage %s: setup: %q: %w", p.Type, status, jsoncomm.ErrInternal)
		}
		return &je
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return fmt.Errorf("stage %s: wait: %w", p.Type, waitErr)
	}
	return nil
}

// readMetadata returns the stage's metadata: nothing when it wrote none, a
// JSON object otherwise.
func readMetadata(path string) (json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("metadata over %d bytes: %w", MaxMetadataSize, jsoncomm.ErrStageFailed)
	}
	if len(data) == 0 {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("metadata is not a JSON object: %w", jsoncomm.ErrStageFailed)
	}
	return json.RawMessage(data), nil
}
