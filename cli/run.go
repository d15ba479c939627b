package cli

import (
	"context"
	"io"
)

// runCmd is written by the engine work (issue 4).
func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return exitf(ExitFailed, "run: not implemented yet")
}
