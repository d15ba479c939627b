package disk

import (
	"context"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// bootctlOptions are org.osbuild.bootctl.install.root's options.
type bootctlOptions struct {
	Root               string `json:"root"`
	ESPPath            string `json:"esp-path"`
	BootPath           string `json:"boot-path"`
	RelaxESPChecks     bool   `json:"relax-esp-checks"`
	RandomSeed         string `json:"random-seed"`
	MakeEntryDirectory string `json:"make-entry-directory"`
	EntryToken         string `json:"entry-token"`
}

// BootctlInstallRoot implements org.osbuild.bootctl.install.root: the
// build root's `bootctl install --no-variables --root <root>`, which puts
// systemd-boot (from the root's systemd-boot-efi) into the ESP below the
// root (a mount, or the tree), with upstream's optional flags. systemd
// checks that the ESP is a FAT mount unless relax-esp-checks is set.
// With random-seed "no" nothing random lands on the ESP; bootctl stamps
// the files it writes with the time it runs.
func BootctlInstallRoot(ctx context.Context, args *api.Arguments) error {
	var o bootctlOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	loc, err := args.Location(o.Root)
	if err != nil {
		return err
	}
	root, err := loc.Resolve()
	if err != nil {
		return err
	}
	a := []string{"install", "--no-variables", "--root", root}
	for _, f := range []struct{ flag, v string }{
		{"--random-seed", o.RandomSeed}, {"--make-entry-directory", o.MakeEntryDirectory},
		{"--entry-token", o.EntryToken}, {"--esp-path", o.ESPPath}, {"--boot-path", o.BootPath},
	} {
		if f.v != "" {
			a = append(a, f.flag, f.v)
		}
	}
	cmd, err := command(ctx, "bootctl", a...)
	if err != nil {
		return err
	}
	if o.RelaxESPChecks {
		cmd.Env = append(cmd.Env, "SYSTEMD_RELAX_ESP_CHECKS=1")
	}
	return runCmd(cmd)
}
