package main

import (
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/stages"
)

// runStage runs the built-in stage argv0 names, if there is one.
func runStage(argv0 string) (handled bool, exitCode int) {
	return stages.Main(argv0)
}

// builtinStage tells the runner's setup process which stages it can run
// in-process (sandbox.Builtin): the ones stages.Main would handle, found
// the way stages.Main finds them (an assembler when run from a directory
// named stages.AssemblerDir).
func builtinStage(argv0 string) (run func() int, ok bool) {
	name := filepath.Base(argv0)
	if filepath.Base(filepath.Dir(argv0)) == stages.AssemblerDir {
		_, ok = stages.LookupAssembler(name)
	} else {
		_, ok = stages.Lookup(name)
	}
	if !ok {
		return nil, false
	}
	return func() int { _, code := stages.Main(argv0); return code }, true
}
