package sysconf

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrNoMachineID is returned when first-boot is "preserve" but the tree
// has no /etc/machine-id to preserve.
var ErrNoMachineID = errors.New("no /etc/machine-id to preserve")

// MachineID sets the state of /etc/machine-id: "yes" makes the next boot a
// first boot ("uninitialized"), "no" leaves it empty so only a new ID is
// generated, "preserve" requires the existing file.
func MachineID(_ context.Context, args *api.Arguments) error {
	var opts struct {
		FirstBoot string `json:"first-boot"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	tree := api.Root(args.Tree)
	switch opts.FirstBoot {
	case "yes":
		return tree.WriteFile("/etc/machine-id", []byte("uninitialized\n"), 0o644)
	case "no":
		return tree.WriteFile("/etc/machine-id", nil, 0o644)
	case "preserve":
		host, err := tree.Resolve("/etc/machine-id")
		if err != nil {
			return err
		}
		if fi, err := os.Stat(host); err != nil || !fi.Mode().IsRegular() {
			return ErrNoMachineID
		}
		return nil
	}
	return fmt.Errorf("first-boot %q: %w", opts.FirstBoot, ErrInvalidValue)
}
