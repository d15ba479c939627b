package build

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Executor runs stages on working trees that it holds, named by the
// caller. Paths are host paths; the executor maps them into its sandbox.
type Executor interface {
	// OpenTree makes working tree name, empty or unpacked from the tree
	// archive at from.
	OpenTree(ctx context.Context, name, from string) error
	// SaveTree writes working tree name as a tree archive (treetar) to
	// to, which is the host's: nothing the executor's sandbox can reach
	// may change the bytes once written.
	SaveTree(ctx context.Context, name string, to io.Writer) error
	// CloseTree frees working tree name.
	CloseTree(ctx context.Context, name string) error
	// RunStage runs one stage; output lines go to out as they come. A stage
	// that ran and failed is a result with Success false, not an error.
	RunStage(ctx context.Context, run *StageRun, out func(stream, text string)) (*StageResult, error)
	// Close stops the executor and frees everything it holds.
	Close() error
}

// StageRun is one stage as the executor needs it.
type StageRun struct {
	Tree        string // working tree the stage modifies
	BuildRoot   string // working tree used as /, or "" for the minimal root
	Type        string
	Kind        string // "stages" or "assemblers"
	ID          string
	Executable  string // host path of a libdir module, "" for a built-in
	Options     json.RawMessage
	Inputs      map[string]StageInput
	SourceEpoch *int64
	Timeout     time.Duration

	// Devices, parents before children, and Mounts, in manifest order,
	// are set up for the stage by the executor and torn down after it.
	Devices []StageDevice
	Mounts  []StageMount
}

// StageDevice is one device of a stage (osbuild's device modules).
type StageDevice struct {
	Name, Type, Parent string
	Options            json.RawMessage
}

// StageMount is one mount of a stage (osbuild's mount modules): Source
// names a device of the stage, Partition (from 1) one of its partitions.
type StageMount struct {
	Name, Type, Source, Target string
	Partition                  *int
	Options                    json.RawMessage
}

// StageInput is one input: files from a host directory (only those named
// in Files), or another working tree (only the paths named in Files, when
// there are any: org.osbuild.files from a pipeline).
type StageInput struct {
	Type  string
	Dir   string
	Files []string
	Tree  string
	Data  json.RawMessage
}

// StageResult is how a stage ended.
type StageResult struct {
	Success  bool
	ExitCode int
	Metadata json.RawMessage
	Duration time.Duration
}
