package main

import "github.com/osbuild-vm/osbuild-vm/stages"

// runStage runs the built-in stage argv0 names, if there is one.
func runStage(argv0 string) (handled bool, exitCode int) {
	return stages.Main(argv0)
}
