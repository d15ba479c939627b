// Command osbuild-guest is the one binary in the build VM's initramfs. It
// is multi-call: as PID 1 (or when called "init") it is the agent's init,
// as WorkerName the agent's worker, and under the name of a built-in stage
// that stage. The host cross-compiles it static (CGO_ENABLED=0) for each
// target architecture and embeds it (package host/guestbin).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/guest/agent"
)

func main() {
	os.Exit(run())
}

func run() int {
	name := filepath.Base(os.Args[0])
	switch {
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
