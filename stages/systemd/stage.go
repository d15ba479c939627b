package systemd

import (
	"context"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

type systemdOptions struct {
	Enabled          []string `json:"enabled_services"`
	Disabled         []string `json:"disabled_services"`
	Masked           []string `json:"masked_services"`
	Unmasked         []string `json:"unmasked_services"`
	MaskedGenerators []string `json:"masked_generators"`
	DefaultTarget    string   `json:"default_target"`
}

// Systemd configures units: enable, then disable, then mask, unmask,
// mask generators and set the default target, in upstream's order.
func Systemd(_ context.Context, args *api.Arguments) error {
	var opts systemdOptions
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	m := manager{tree: api.Root(args.Tree)}
	steps := []struct {
		names []string
		fn    func(string) error
	}{
		{opts.Enabled, func(n string) error { return m.enable(n, map[string]bool{}) }},
		{opts.Disabled, func(n string) error { return m.disable(n, map[string]bool{}) }},
		{opts.Masked, m.mask},
		{opts.Unmasked, m.unmask},
		{opts.MaskedGenerators, m.maskGenerator},
	}
	for _, s := range steps {
		for _, n := range s.names {
			if err := s.fn(n); err != nil {
				return err
			}
		}
	}
	if opts.DefaultTarget != "" {
		return m.setDefault(opts.DefaultTarget)
	}
	return nil
}
