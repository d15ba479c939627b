// Command osbuild-vm builds operating-system images from osbuild manifests,
// running every stage inside a QEMU virtual machine of the target architecture.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/osbuild-vm/osbuild-vm/cli"
)

func main() {
	// A closed stdout (osbuild-vm ... | head) must not kill us before the
	// VM is cleaned up: with SIGPIPE caught, writes just fail with EPIPE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "osbuild-vm:", msg)
		}
	}
	os.Exit(cli.ExitCode(ctx, err))
}
