package cli

import (
	"context"
	"io"
)

// runCmd is replaced by the engine work (issue 4).
func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return exitf(ExitFailed, "run: not implemented yet")
}

// vmCmd is replaced by the VM sandbox work (issue 5).
func vmCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return exitf(ExitFailed, "vm: not implemented yet")
}
