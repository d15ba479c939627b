//go:build !osbuildvm_runner

package agent

import "github.com/osbuild-vm/osbuild-vm/jsoncomm"

// registerRunner is a no-op until package runner lands: the agent then
// answers tree.* and stage.run with "unsupported". Build with
// -tags osbuildvm_runner (runner.go) to wire it.
func registerRunner(*jsoncomm.Server, *logger) {}
