// Package cli is the osbuild-vm command line: it parses arguments, wires the
// engine, the VM host and the image helpers together, and maps failures to
// osbuild's exit codes. Every subcommand takes (ctx, args, stdin, stdout,
// stderr) and returns an error so that tests can run it in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Exit codes, as osbuild uses them.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitInvalid     = 2
	ExitInterrupted = 130
)

// ExitError carries an exit code chosen by a subcommand. An empty message
// means the subcommand already printed what the user needs.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// exitf returns an *ExitError with a formatted message.
func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// ExitCode maps the error returned by Run to a process exit code.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return ExitInterrupted
	}
	return ExitFailed
}

// Version is set at build time by the Makefile (-ldflags -X).
var Version = "0.1.0-dev"

const usage = `usage: osbuild-vm COMMAND [flags]

commands:
  run [flags] MANIFEST   build the manifest (- reads standard input)
  depsolve [flags] MANIFEST
                         pin the manifest's Debian package requests (prints the result)
  vm check --arch ARCH   boot the build VM and check the agent, shares and channel
  cache push|pull|ls     share store objects through an OCI registry
  version                print the version

Run "osbuild-vm COMMAND -h" for a command's flags.
`

// Run runs the command line args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &ExitError{Code: ExitInvalid}
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdin, stdout, stderr)
	case "depsolve":
		return depsolveCmd(ctx, args[1:], stdin, stdout, stderr)
	case "vm":
		return vmCmd(ctx, args[1:], stdout, stderr)
	case "cache":
		return cacheCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "osbuild-vm", Version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return exitf(ExitInvalid, "unknown command %q; use run, depsolve, vm, cache or version", args[0])
}
