//go:build osbuildvm_runner

package agent

import (
	"os"

	"github.com/osbuild-vm/osbuild-vm/guest/runner"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// registerRunner adds the tree.* and stage.run methods of package runner.
func registerRunner(srv *jsoncomm.Server, l *logger) {
	self, err := os.Executable()
	if err != nil {
		self = "/init"
	}
	runner.Register(srv, runner.Config{WorkDir: WorkDir, Binary: self})
	l.phase("runner registered")
}
