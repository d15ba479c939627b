package sandbox

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// inProcess returns the built-in stage to run in this process, when the
// spec allows it and this process can look to the stage exactly as an
// executed stage would: argv[0] the Bin path, the spec's environment
// only, cwd "/", /dev/null on stdin, and only the kept capabilities, on
// every thread (restricted: capabilitiesCut). Otherwise the setup
// process executes Bin as before.
//
// What differs: the stage is PID 1 of its namespace rather than its
// child, so orphans of processes it starts stay zombies until it ends,
// and signals it has no handler for are ignored when sent from inside;
// and it has the status pipe (StatusFD, write-only, close-on-exec) open,
// on which the setup process reports the stage's exit.
func inProcess(spec *Spec, builtin Builtin, restricted bool) (func() int, bool) {
	if !spec.InProcess || builtin == nil || !restricted {
		return nil, false
	}
	run, ok := builtin(spec.Bin)
	if !ok {
		return nil, false
	}
	os.Clearenv()
	for _, kv := range spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, v)
		}
	}
	os.Args = []string{spec.Bin}
	return run, true
}

// capabilitiesCut reports whether this process holds no capability
// upstream osbuild's stages do not get, in its bounding set or its
// permitted set: whether it already looks to a stage as an executed stage
// would. Every thread has the same sets, all having come from the thread
// that executed the setup process, whose sets exec made.
func capabilitiesCut() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	for c := 0; c < 64; c++ {
		if keptCapabilities[c] {
			continue
		}
		if data[c/32].Permitted&(1<<(c%32)) != 0 || data[c/32].Inheritable&(1<<(c%32)) != 0 {
			return false
		}
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			return true // past the kernel's last capability
		}
		if err != nil || in != 0 {
			return false
		}
	}
	return true
}
