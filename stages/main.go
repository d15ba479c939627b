package stages

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// AssemblerDir is the directory name the agent execs assemblers from
// (/run/osbuild/bin/assemblers/<name>): it tells the v1 tar assembler from
// the v2 tar stage.
const AssemblerDir = "assemblers"

// Main runs the built-in stage named by argv0's base name, when there is
// one: it loads the arguments (api.Load), runs the stage, and on failure
// prints one line to stderr. handled is false when argv0 names no
// built-in, so the caller can carry on as the agent. The caller exits.
func Main(argv0 string) (handled bool, exitCode int) {
	stage, ok := resolve(argv0)
	if !ok {
		return false, 0
	}
	name := filepath.Base(argv0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, stage, api.Load); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return true, 1
	}
	return true, 0
}

// resolve maps argv0 to a stage, or to an assembler when it is executed
// from a directory named AssemblerDir.
func resolve(argv0 string) (Stage, bool) {
	name := filepath.Base(argv0)
	if filepath.Base(filepath.Dir(argv0)) == AssemblerDir {
		return LookupAssembler(name)
	}
	return Lookup(name)
}

func run(ctx context.Context, stage Stage, load func() (*api.Arguments, error)) error {
	args, err := load()
	if err != nil {
		return err
	}
	return stage(ctx, args)
}
