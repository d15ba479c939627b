// Package api is the contract between the guest agent and a built-in stage:
// the arguments file a stage reads (osbuild's shape, see osbuild/api.py
// arguments()), and the helpers every stage shares to touch the tree safely
// (paths resolved with the tree as root, location URLs, metadata output).
//
// Inside the build VM a stage sees:
//
//	/run/osbuild/api/arguments   this package's Arguments, as JSON
//	/run/osbuild/tree            the tree it modifies (or writes its artifact to)
//	/run/osbuild/inputs/<name>/  read-only inputs (files by checksum, or a tree)
//	/run/osbuild/meta            where a stage may write a JSON object of metadata
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// DefaultArgumentsPath is where the guest agent puts the arguments file.
const DefaultArgumentsPath = "/run/osbuild/api/arguments"

// ArgumentsEnv overrides DefaultArgumentsPath. It exists for tests that run
// the multi-call entry point on the host; the guest agent never sets it.
const ArgumentsEnv = "OSBUILD_VM_STAGE_ARGUMENTS"

// maxArgumentsSize bounds the arguments file: options of real manifests are
// kilobytes, so anything near this is a bug or an attack.
const maxArgumentsSize = 64 << 20

// ErrInvalidArguments marks an arguments file or options that cannot be used.
var ErrInvalidArguments = errors.New("invalid stage arguments")

// Paths are the well-known directories a stage finds its resources under.
type Paths struct {
	Devices string `json:"devices"`
	Inputs  string `json:"inputs"`
	Mounts  string `json:"mounts"`
	// Meta is our extension: the file a stage writes its metadata to.
	Meta string `json:"meta,omitempty"`
}

// Input is one entry of Arguments.Inputs, as osbuild's input services reply.
type Input struct {
	// Path is the input's root directory.
	Path string `json:"path"`
	// Data is the input type's reply; for org.osbuild.files it holds
	// {"files": {"sha256:…": {metadata}}}, for org.osbuild.tree nothing.
	Data InputData `json:"data"`
}

// InputData is the data part of an input reply.
type InputData struct {
	Files InputFiles `json:"files,omitempty"`
}

// Mount is one entry of Arguments.Mounts.
type Mount struct {
	Path string `json:"path"`
}

// Meta is the per-stage information the agent passes along.
type Meta struct {
	ID string `json:"id"`
}

// Arguments is what a stage receives, in osbuild's arguments format.
type Arguments struct {
	Tree    string                     `json:"tree"`
	Paths   Paths                      `json:"paths"`
	Devices map[string]json.RawMessage `json:"devices,omitempty"`
	Inputs  map[string]Input           `json:"inputs,omitempty"`
	Mounts  map[string]Mount           `json:"mounts,omitempty"`
	Options json.RawMessage            `json:"options,omitempty"`
	Meta    Meta                       `json:"meta"`

	// SourceEpoch is SOURCE_DATE_EPOCH, when the pipeline has one. It is not
	// part of the file: Load takes it from the environment.
	SourceEpoch *time.Time `json:"-"`
}

// Load reads the arguments file the agent prepared: the path in
// ArgumentsEnv when set, else DefaultArgumentsPath.
func Load() (*Arguments, error) {
	path := os.Getenv(ArgumentsEnv)
	if path == "" {
		path = DefaultArgumentsPath
	}
	return LoadFrom(path)
}

// LoadFrom reads the arguments file at path and SOURCE_DATE_EPOCH from the
// environment.
func LoadFrom(path string) (*Arguments, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load arguments: %w", err)
	}
	defer f.Close()
	args, err := Parse(io.LimitReader(f, maxArgumentsSize+1))
	if err != nil {
		return nil, fmt.Errorf("load arguments %s: %w", path, err)
	}
	epoch, err := SourceEpochFromEnv()
	if err != nil {
		return nil, err
	}
	args.SourceEpoch = epoch
	return args, nil
}

// Parse decodes an arguments document.
func Parse(r io.Reader) (*Arguments, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > maxArgumentsSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidArguments, maxArgumentsSize)
	}
	var args Arguments
	if err := json.Unmarshal(data, &args); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArguments, err)
	}
	if args.Tree == "" {
		return nil, fmt.Errorf("%w: no tree", ErrInvalidArguments)
	}
	return &args, nil
}

// SourceEpochFromEnv parses SOURCE_DATE_EPOCH; nil when it is unset.
func SourceEpochFromEnv() (*time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: SOURCE_DATE_EPOCH %q is not a non-negative integer", ErrInvalidArguments, s)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// DecodeOptions decodes the stage options into v. Absent options decode
// as an empty object. Decoding is lenient about unknown keys on purpose:
// the stage's meta.json schema is what accepts or rejects options (the
// engine validates the manifest before anything runs), and some schemas
// allow extra keys in nested objects; a stricter decoder here would
// refuse manifests that osbuild accepts.
func (a *Arguments) DecodeOptions(v any) error {
	raw := a.Options
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: options: %w", ErrInvalidArguments, err)
	}
	return nil
}
