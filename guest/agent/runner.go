package agent

import (
	"github.com/osbuild-vm/osbuild-vm/guest/runner"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// selfPath is the guest binary inside the VM: the initramfs's /init. The
// runner re-executes it to set up each stage and runs built-in stages
// from it.
const selfPath = "/init"

// registerRunner adds package runner's tree.* and stage.run methods. When
// the runner cannot start, the agent still serves its own methods (the
// host learns why from the console, and tree.* calls answer unsupported).
func registerRunner(srv *jsoncomm.Server, l *logger, workDir, cgroup string) {
	if _, err := runner.Register(srv, runner.Config{WorkDir: workDir, Self: selfPath, Cgroup: cgroup}); err != nil {
		l.errorf("runner: %v", err)
		return
	}
	l.phase("runner registered")
}
