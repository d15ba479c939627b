// Package manifest loads osbuild manifests (format versions 1 and 2) into
// one model that the rest of the engine plans and runs from, and computes
// every content ID exactly as upstream osbuild does, so that `--inspect`
// output, checkpoints and the object store agree with osbuild's.
//
// Load does what osbuild's formats/v1.py and formats/v2.py load() do, plus
// the structural checks those leave to exceptions: it never needs a libdir
// (IDs depend only on module names and options). Schema validation of the
// manifest and of module options lives in engine/validate.
//
// A version 1 manifest becomes the pipelines upstream's v1 loader makes:
// nested build pipelines named "build", "build-build", … (deepest first),
// the main pipeline "tree", and the assembler as a one-stage pipeline
// "assembler" whose "tree" input references the tree pipeline.
package manifest

import (
	"encoding/json"
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// Manifest is a loaded manifest.
type Manifest struct {
	Version   int         // 1 or 2
	Pipelines []*Pipeline // manifest order (v1: build…, tree, assembler)
	// Sources maps each source type, as written in the manifest, to its
	// description exactly as decoded (v2: {"items":…, "options":…}; v1:
	// e.g. {"urls":…}).
	Sources map[string]json.RawMessage
	// SourceList is Sources as osbuild loads them, in manifest order, with
	// v1's org.osbuild.files renamed org.osbuild.curl.
	SourceList []*Source
	Metadata   json.RawMessage // {} when absent
	// HostRunner is the runner name Inspect prints for a v2 build pipeline
	// that declares none. osbuild detects it from the host's os-release and
	// its libdir's runners (on Debian 12: "org.osbuild.debian"); empty
	// prints no runner there.
	HostRunner string

	metadata   *pyjson.Object
	sourceRefs map[string]bool
}

// Source is one source type of the manifest and the items it must fetch.
type Source struct {
	Type    string          // e.g. org.osbuild.curl
	Items   json.RawMessage // checksum -> item description (v1: "urls", "commits" or "items")
	Options json.RawMessage // v2 "options" ({} when absent); v1: the whole description
	items   any
	desc    any // what describe() prints for this source
}

// Pipeline is one pipeline. ID is the ID of its last stage, "" when it has
// no stages (osbuild's None).
type Pipeline struct {
	Name string
	ID   string
	// Runner names the runner that executes this pipeline's stages: the
	// runner declared on its build pipeline, "" for the host's (no build).
	Runner string
	// Build is the pipeline whose tree is the build root; nil for none.
	// A build pipeline without stages counts as none, as in osbuild.
	Build       *Pipeline
	SourceEpoch *int64 // v2 "source-epoch"; nil when absent
	Stages      []*Stage

	declaredRunner string // v2: the "runner" written on this pipeline
	v1BuildRunner  string // v1: the "runner" of this pipeline's build section
}

// Stage is one stage of a pipeline (a v1 assembler is a stage too).
type Stage struct {
	Type     string
	ID       string
	Options  json.RawMessage    // {} when absent
	Inputs   map[string]*Input  // input name -> input
	Devices  map[string]*Device // device name -> device
	Mounts   []*Mount           // in manifest order
	Pipeline *Pipeline          // the pipeline it belongs to
	// Assembler marks a v1 assembler: its module lives under assemblers/,
	// not stages/.
	Assembler bool

	options       *pyjson.Object
	inputOrder    []string
	deviceOrder   []string // parents before children, as osbuild sorts them
	sourceEpoch   any
	buildID, base string
}

// Input is one stage input.
type Input struct {
	Name   string
	Type   string // e.g. org.osbuild.files, org.osbuild.tree
	Origin string // org.osbuild.source or org.osbuild.pipeline
	// References in manifest order. For org.osbuild.pipeline the ID is the
	// referenced pipeline's ID (after resolving "name:X"); for sources it
	// is an item's checksum.
	References []Reference
	Options    json.RawMessage // {} when absent
	ID         string

	refs    *pyjson.Object
	options *pyjson.Object
}

// Reference is one reference of an input.
type Reference struct {
	ID      string
	Options json.RawMessage // {} when absent
}

// Device is one stage device.
type Device struct {
	Name    string
	Type    string
	Parent  string // name of the parent device, "" for none
	Options json.RawMessage
	ID      string

	options *pyjson.Object
}

// Mount is one stage mount.
type Mount struct {
	Name      string
	Type      string
	Source    string // device name, "" for none
	Target    string
	Partition *int
	Options   json.RawMessage
	ID        string

	hasTarget bool
	partition pyjson.Number
	options   *pyjson.Object
}

// Pipeline returns the pipeline with that name, or else the first one with
// that ID, or nil (osbuild's Manifest.get).
func (m *Manifest) Pipeline(nameOrID string) *Pipeline {
	for _, p := range m.Pipelines {
		if p.Name == nameOrID {
			return p
		}
	}
	for _, p := range m.Pipelines {
		if p.ID != "" && p.ID == nameOrID {
			return p
		}
	}
	return nil
}

// Export returns the pipeline to export for a --export argument.
func (m *Manifest) Export(nameOrID string) (*Pipeline, error) {
	if p := m.Pipeline(nameOrID); p != nil {
		return p, nil
	}
	return nil, &Error{Path: ".", Kind: ErrNotFound,
		Msg:  fmt.Sprintf("export %q not found", nameOrID),
		Hint: fmt.Sprintf("use one of the pipeline names %q or an ID", m.names())}
}

func (m *Manifest) names() []string {
	names := make([]string, len(m.Pipelines))
	for i, p := range m.Pipelines {
		names[i] = p.Name
	}
	return names
}

// InputNames returns the stage's input names in manifest order.
func (s *Stage) InputNames() []string { return s.inputOrder }

// DeviceNames returns the stage's device names, parents before children.
func (s *Stage) DeviceNames() []string { return s.deviceOrder }

func raw(v any) json.RawMessage {
	b, err := pyjson.Dumps(v, false)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
