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
// lateLoaded blocks until the modules loaded after the hello are in.
func registerRunner(srv *jsoncomm.Server, l *logger, workDir, cgroup string, lateLoaded func()) {
	cfg := runner.Config{WorkDir: workDir, Self: selfPath, Cgroup: cgroup, DeviceModules: lateLoaded}
	if _, err := runner.Register(srv, cfg); err != nil {
		l.errorf("runner: %v", err)
		return
	}
	l.phase("runner registered")
}
