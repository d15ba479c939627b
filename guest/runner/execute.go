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
	"time"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// MaxMetadataSize bounds the metadata a stage may return.
const MaxMetadataSize = 1 << 20

// maxStatusSize bounds the setup process's error report.
const maxStatusSize = 64 << 10

// execute hands spec to a setup process, streams the stage's output,
// and turns how it ended into a result.
func (r *Runner) execute(ctx context.Context, p *jsoncomm.StageRunParams, spec []byte, meta string, log func(jsoncomm.Log)) (jsoncomm.StageResult, error) {
	tctx, cancel := withTimeout(ctx, p.TimeoutSeconds)
	defer cancel()
	begin := time.Now()
	sp, err := r.startSetup(spec)
	if err != nil {
		return jsoncomm.StageResult{}, fmt.Errorf("stage %s: %w", p.Type, err)
	}
	defer sp.close()
	defer sp.stop()
	defer context.AfterFunc(tctx, sp.stop)()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); streamLines(sp.out, jsoncomm.StreamStdout, log) }()
	go func() { defer wg.Done(); streamLines(sp.err, jsoncomm.StreamStderr, log) }()
	status, _ := io.ReadAll(io.LimitReader(sp.status, maxStatusSize))
	waitErr := sp.cmd.Wait()
	wg.Wait()
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

// startSetup hands spec to the spare setup process, or to a new one when
// the spare is gone.
func (r *Runner) startSetup(spec []byte) (*setupProc, error) {
	sp, err := r.take()
	if err != nil {
		return nil, err
	}
	if err = sp.send(spec); errors.Is(err, errSetupGone) {
		sp.discard()
		if sp, err = r.spawn(); err == nil {
			err = sp.send(spec)
		}
	}
	if err != nil {
		sp.discard()
		return nil, fmt.Errorf("send spec: %w", err)
	}
	return sp, nil
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
	case string(status) == sandbox.StatusStarted:
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
