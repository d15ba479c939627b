package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// MaxMetadataSize bounds the metadata a stage may return.
const MaxMetadataSize = 1 << 20

// maxStatusSize bounds the setup process's error report.
const maxStatusSize = 64 << 10

// execute hands p to a setup process, streams the stage's output,
// and turns how it ended into a result.
func (r *Runner) execute(ctx context.Context, p *jsoncomm.StageRunParams, devs *stageDevices, log func(jsoncomm.Log)) (jsoncomm.StageResult, error) {
	tctx, cancel := withTimeout(ctx, p.TimeoutSeconds)
	defer cancel()
	begin := time.Now()
	sp, err := r.startSetup(p, devs)
	if err != nil {
		return jsoncomm.StageResult{}, fmt.Errorf("stage %s: %w", p.Type, err)
	}
	defer os.RemoveAll(sp.call)
	defer sp.close()
	unwatch := context.AfterFunc(tctx, sp.stop)
	watching, unwatchLimit := context.WithCancel(tctx)
	defer unwatchLimit()
	sp.cg.watch(watching)
	var wg sync.WaitGroup
	wg.Add(2)
	budget := newOutputBudget(MaxStageOutput)
	go func() { defer wg.Done(); streamLines(sp.out, jsoncomm.StreamStdout, budget, log) }()
	go func() { defer wg.Done(); streamLines(sp.err, jsoncomm.StreamStderr, budget, log) }()
	status, _ := io.ReadAll(io.LimitReader(sp.status, maxStatusSize))
	hitLimit := sp.cg.limitHit() // before the cgroup goes with its process
	code, exited := exitReport(status)
	var waitErr error
	// With devices the runner waits for the setup process: its exit ends
	// the namespace, and with it whatever still held the devices.
	if exited && unwatch() && len(p.Devices) == 0 {
		r.reapLater(sp) // the stage is over; its setup process exits alone
	} else {
		waitErr = sp.wait()
		sp.stop()
		code = sp.cmd.ProcessState.ExitCode()
	}
	wg.Wait()
	res := jsoncomm.StageResult{Millis: time.Since(begin).Milliseconds(), ExitCode: code}
	if err := ended(ctx, tctx, p, status, waitErr); err != nil {
		return res, err
	}
	if err := r.bounded(p, hitLimit, code); err != nil {
		return res, err
	}
	res.Success = res.ExitCode == 0
	md, err := readMetadata(filepath.Join(sp.call, "meta"))
	if err != nil {
		return res, fmt.Errorf("stage %s: %w", p.Type, err)
	}
	res.Metadata = md
	return res, nil
}

// exitReport finds the stage's exit code in what the setup process
// reported: StatusStarted, then StatusExit and the code.
func exitReport(status []byte) (code int, ok bool) {
	rest, found := bytes.CutPrefix(status, []byte(sandbox.StatusStarted+sandbox.StatusExit))
	if !found {
		return 0, false
	}
	code, err := strconv.Atoi(string(rest))
	return code, err == nil && code >= 0 && code <= 255
}

// reapLater collects a setup process that reported its stage's end, in
// the background: its exit and its namespaces' teardown take a while and
// hold nothing the next stage needs. Close waits for it.
func (r *Runner) reapLater(sp *setupProc) {
	r.exiting.Add(1)
	go func() {
		defer r.exiting.Done()
		sp.wait()
		sp.stop()
	}()
}

func withTimeout(ctx context.Context, seconds float64) (context.Context, context.CancelFunc) {
	if seconds <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(seconds*float64(time.Second)))
}

// startSetup prepares p in the call directory of the oldest spare setup
// process and hands it the spec; or does so with a new process when the
// spare is gone.
func (r *Runner) startSetup(p *jsoncomm.StageRunParams, devs *stageDevices) (*setupProc, error) {
	sp, err := r.take()
	if err != nil {
		return nil, err
	}
	if err = r.hand(sp, p, devs); errors.Is(err, errSetupGone) {
		sp.discard()
		if sp, err = r.spawn(); err == nil {
			err = r.hand(sp, p, devs)
		}
	}
	if err != nil {
		if sp != nil {
			sp.discard()
		}
		return nil, err
	}
	return sp, nil
}

// hand fills sp's call directory for p and sends sp the spec.
func (r *Runner) hand(sp *setupProc, p *jsoncomm.StageRunParams, devs *stageDevices) error {
	spec, err := r.prepare(sp.call, p, devs)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := sp.send(spec); err != nil {
		return fmt.Errorf("send spec: %w", err)
	}
	return nil
}

// ended classifies how the setup process ended: a setup failure it
// reported, an end before the stage started, a timeout, a cancellation,
// or nil when the stage ran (whatever its exit code).
func ended(ctx, tctx context.Context, p *jsoncomm.StageRunParams, status []byte, waitErr error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("stage %s: %w", p.Type, ctx.Err())
	case tctx.Err() != nil:
		return fmt.Errorf("stage %s: no exit after %gs: %w", p.Type, p.TimeoutSeconds, jsoncomm.ErrTimeout)
	case bytes.HasPrefix(status, []byte(sandbox.StatusStarted)):
	case len(status) == 0:
		return fmt.Errorf("stage %s: setup process ended before the stage started (%v): %w", p.Type, waitErr, jsoncomm.ErrInternal)
	default:
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
