package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/cli"
)

// cliEnv, set in a child's environment, makes this test binary behave as
// the osbuild-vm command (as cmd/osbuild-vm does), so tests can run it as
// a process of its own: to run two at once or to kill one.
const cliEnv = "OSBUILD_VM_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		os.Exit(cliMain())
	}
	os.Exit(m.Run())
}

// cliMain is cmd/osbuild-vm's main.
func cliMain() int {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil && err.Error() != "" {
		fmt.Fprintln(os.Stderr, "osbuild-vm:", err)
	}
	return cli.ExitCode(ctx, err)
}

// cliCommand is `osbuild-vm args...` as a child process; its output goes
// to the returned buffer.
func cliCommand(args ...string) (*exec.Cmd, *syncBuffer) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// exitCode is how a finished child ended: its exit status, or -1.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
