package build

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// Result is what a run did, in the shape osbuild reports it: per pipeline,
// per stage, with each stage's output and metadata.
type Result struct {
	Success   bool
	Pipelines []*PipelineResult
	// Metadata maps pipeline name -> stage type -> the stage's metadata.
	Metadata map[string]map[string]json.RawMessage
}

// PipelineResult lists the stages that ran in one pipeline.
type PipelineResult struct {
	Name, ID string
	Stages   []*StageLog
}

// StageLog is one stage that ran.
type StageLog struct {
	ID, Type string
	Success  bool
	Output   string
	Metadata json.RawMessage
}

func newResult() *Result {
	return &Result{Success: true, Metadata: map[string]map[string]json.RawMessage{}}
}

func (r *Result) pipeline(p *manifest.Pipeline) *PipelineResult {
	pr := &PipelineResult{Name: p.Name, ID: p.ID}
	r.Pipelines = append(r.Pipelines, pr)
	return pr
}

func (r *Result) addMetadata(pipeline, stage string, md json.RawMessage) {
	if r.Metadata[pipeline] == nil {
		r.Metadata[pipeline] = map[string]json.RawMessage{}
	}
	r.Metadata[pipeline][stage] = md
}

// StageError is a stage that ran and failed; Output is its log.
type StageError struct {
	Pipeline, Type, ID string
	ExitCode           int
	Output             string
}

func (e *StageError) Error() string {
	return fmt.Sprintf("pipeline %s: stage %s (%s) exited with status %d", e.Pipeline, e.Type, short(e.ID), e.ExitCode)
}

// Unwrap makes errors.Is(err, ErrStageFailed) hold.
func (e *StageError) Unwrap() error { return ErrStageFailed }

// Tail is the last n lines of the stage's output.
func (e *StageError) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(e.Output, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
