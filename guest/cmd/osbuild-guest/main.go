// Command osbuild-guest is the one binary in the build VM's initramfs. It
// is multi-call:
//
//   - argv[1] runner.SetupArg: the runner's per-stage setup process
//     (checked first: it is PID 1 of its own PID namespace), which may run
//     a built-in stage in-process;
//   - PID 1, or argv[0] "init": the agent's init (agent.Init);
//   - argv[0] agent.WorkerName: the agent's worker (agent.Main);
//   - argv[0] naming a built-in stage: that stage (stages.Main).
//
// The host cross-compiles it static (CGO_ENABLED=0) for each target
// architecture and embeds it (package host/guestbin).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/guest/agent"
	"github.com/osbuild-vm/osbuild-vm/guest/runner"
)

func main() {
	os.Exit(run())
}

func run() int {
	name := filepath.Base(os.Args[0])
	switch {
	case runner.IsSetup(os.Args):
		return runner.SetupMain(builtinStage)
	case os.Getpid() == 1 || name == "init":
		return agent.Init()
	case name == agent.WorkerName:
		return agent.Main()
	}
	if handled, code := runStage(os.Args[0]); handled {
		return code
	}
	fmt.Fprintf(os.Stderr, "osbuild-guest: %q is neither the agent nor a built-in stage; this binary runs inside the build VM\n", name)
	return 2
}
