package cli

import (
	"context"
	"io"
)

// vmCmd is written by the VM sandbox work (issue 5).
func vmCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return exitf(ExitFailed, "vm: not implemented yet")
}
