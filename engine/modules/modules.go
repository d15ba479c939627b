// Package modules finds osbuild modules (stages, assemblers, sources,
// inputs, devices, mounts): their metadata, which carries the JSON schemas
// that engine/validate checks manifests with, and their executables, which
// the execution layer runs.
//
// A module is looked up in every libdir in order, at
//
//	<libdir>/<kind>/<name>.meta.json   metadata (osbuild's meta.json format)
//	<libdir>/<kind>/<name>             executable
//
// and then among the built-in modules: stages and assemblers from
// stages/meta.FS (run by the guest's multi-call binary), devices and mounts
// from there too (set up by the guest's runner), sources and inputs from
// builtin/ (implemented by the engine itself). A libdir entry wins
// over a built-in one, so a libdir can override a built-in module.
//
// osbuild also reads an old-style SCHEMA from a Python module that has no
// .meta.json; this package reads .meta.json only.
package modules

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
)

// Kind is a module class, named as its libdir subdirectory.
type Kind string

// The module kinds osbuild knows.
const (
	Stage     Kind = "stages"
	Assembler Kind = "assemblers"
	Source    Kind = "sources"
	Input     Kind = "inputs"
	Device    Kind = "devices"
	Mount     Kind = "mounts"
)

// Kinds lists every kind.
var Kinds = []Kind{Stage, Assembler, Source, Input, Device, Mount}

// Errors callers branch on.
var (
	ErrUnknownModule = errors.New("unknown module")
	ErrInvalidMeta   = errors.New("invalid module metadata")
	ErrNoExecutable  = errors.New("module has no executable")
	ErrBadName       = errors.New("invalid module name")
)

//go:embed builtin/sources/*.meta.json builtin/inputs/*.meta.json
var builtinFS embed.FS

// nameRe keeps module names usable as file names inside a libdir.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$`)

func checkName(kind Kind, name string) error {
	if !validKind(kind) {
		return fmt.Errorf("module kind %q: %w", kind, ErrBadName)
	}
	if !nameRe.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("module %s/%q: %w", kind, name, ErrBadName)
	}
	return nil
}

func validKind(kind Kind) bool {
	for _, k := range Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// builtinFile reads the built-in meta.json of a module, if there is one.
func (ix *Index) builtinFile(kind Kind, name string) ([]byte, bool) {
	var fsys fs.FS
	var p string
	switch kind {
	case Stage, Assembler, Device, Mount:
		fsys, p = ix.builtinStages, string(kind)+"/"+name+".meta.json"
	case Source, Input:
		fsys, p = builtinFS, "builtin/"+string(kind)+"/"+name+".meta.json"
	default:
		return nil, false
	}
	if fsys == nil {
		return nil, false
	}
	b, err := fs.ReadFile(fsys, p)
	return b, err == nil
}
