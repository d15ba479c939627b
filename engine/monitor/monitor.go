// Package monitor reports the progress of a build as it happens and its
// outcome at the end: human-readable (LogMonitor), machine-readable as
// osbuild's JSON sequence (JSONSeqMonitor, RFC 7464), or not at all
// (NullMonitor); and the --json result document in osbuild's v1 and v2
// shapes (Result). The build engine calls a Monitor; nothing here knows
// about manifests, the store or the VM.
package monitor

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Pipeline is a pipeline as the monitor reports it.
type Pipeline struct {
	Name, ID    string
	Build       string // build pipeline name or id; "" for the VM's own root
	Runner      string
	SourceEpoch *int64
	Stages      int // number of stages that will run
	Index       int // 1-based position among the pipelines of this run
	Count       int // pipelines to build in this run
}

// Stage is a stage about to run.
type Stage struct {
	Type, ID string
	Options  json.RawMessage // nil or JSON object
	Index    int             // 1-based position in its pipeline
	Count    int
}

// StageResult is a stage's outcome. Error is osbuild's error object
// ({"type": ..., "details": ...}) or nil.
type StageResult struct {
	Type, ID string
	Success  bool
	Output   string
	Error    json.RawMessage
	Metadata json.RawMessage // the stage's metadata object, or nil
}

// SourceItem is one source item's outcome.
type SourceItem struct {
	Checksum string
	Cached   bool
	Error    string
}

// SourceResult is the outcome of one source type.
type SourceResult struct {
	Type  string
	Items []SourceItem
}

// Success reports whether every item succeeded.
func (r SourceResult) Success() bool {
	for _, it := range r.Items {
		if it.Error != "" {
			return false
		}
	}
	return true
}

// Download is progress of one source item's download.
type Download struct {
	Checksum, URL string
	Done, Total   int64 // bytes; Total -1 when unknown
}

// Monitor receives the events of a run, in this order: RunStarted; per
// source type SourceStarted, Download*, SourceFinished; per pipeline
// PipelineStarted, then per stage StageStarted, Output*, StageFinished,
// then PipelineFinished; RunFinished. Output may be called from another
// goroutine than the others; implementations serialise their writes.
type Monitor interface {
	RunStarted(manifest string, steps int) // steps: source types + pipelines to build
	SourceStarted(typ string)
	Download(d Download)
	SourceFinished(r SourceResult)
	PipelineStarted(p Pipeline)
	StageStarted(s Stage)
	Output(text, origin string) // stage output as it streams; origin e.g. "stages/org.osbuild.mkdir"
	StageFinished(r StageResult)
	PipelineFinished(p Pipeline)
	RunFinished(manifest string, success bool)
	// Err is the first error writing the monitor's output, or nil. After
	// one, the monitor writes nothing more; the caller fails the run.
	Err() error
}

// NullMonitor reports nothing.
type NullMonitor struct{}

func (NullMonitor) RunStarted(string, int)      {}
func (NullMonitor) SourceStarted(string)        {}
func (NullMonitor) Download(Download)           {}
func (NullMonitor) SourceFinished(SourceResult) {}
func (NullMonitor) PipelineStarted(Pipeline)    {}
func (NullMonitor) StageStarted(Stage)          {}
func (NullMonitor) Output(string, string)       {}
func (NullMonitor) StageFinished(StageResult)   {}
func (NullMonitor) PipelineFinished(Pipeline)   {}
func (NullMonitor) RunFinished(string, bool)    {}
func (NullMonitor) Err() error                  { return nil }

// Clock returns the current time; tests inject a fixed one.
type Clock func() time.Time

// constructors maps osbuild's --monitor names to monitors.
var constructors = map[string]func(io.Writer) Monitor{
	"NullMonitor":    func(io.Writer) Monitor { return NullMonitor{} },
	"LogMonitor":     func(w io.Writer) Monitor { return NewLogMonitor(w, time.Now) },
	"JSONSeqMonitor": func(w io.Writer) Monitor { return NewJSONSeqMonitor(w, time.Now) },
}

// UnknownError reports a --monitor name that does not exist.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("monitor %q: unknown; use %s", e.Name, strings.Join(Names(), ", "))
}

// Names lists the valid monitor names.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the monitor called name (osbuild's --monitor values:
// LogMonitor, JSONSeqMonitor, NullMonitor) writing to w.
func New(name string, w io.Writer) (Monitor, error) {
	c, ok := constructors[name]
	if !ok {
		return nil, &UnknownError{Name: name}
	}
	return c(w), nil
}
