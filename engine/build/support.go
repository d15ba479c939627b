package build

import (
	"errors"
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// ErrNotSupported marks a manifest that is valid but asks for something
// the builder does not do yet.
var ErrNotSupported = errors.New("not supported yet")

// CheckSupported refuses a run whose exports need a stage with devices
// or mounts: they are parsed, validated and hashed, but not set up for
// the stage, which would run as if they were absent and build something
// else than the manifest says. Only the pipelines the exports need count
// (their build pipelines and pipeline inputs, transitively), whatever the
// store holds, so the answer does not depend on the cache. The error
// names the first such stage in manifest order.
func CheckSupported(m *manifest.Manifest, exports []string) error {
	need := needed(m, exports)
	for _, p := range m.Pipelines {
		if !need[p] {
			continue
		}
		for _, s := range p.Stages {
			what := ""
			switch {
			case len(s.Devices) > 0:
				what = "devices"
			case len(s.Mounts) > 0:
				what = "mounts"
			default:
				continue
			}
			return fmt.Errorf("pipeline %s: stage %s (%s) uses %s, which osbuild-vm does not set up for stages yet: %w",
				p.Name, s.Type, short(s.ID), what, ErrNotSupported)
		}
	}
	return nil
}

// needed returns the pipelines that building exports may run: each
// export, its build pipeline and the pipelines its stages take as inputs.
func needed(m *manifest.Manifest, exports []string) map[*manifest.Pipeline]bool {
	need := map[*manifest.Pipeline]bool{}
	var todo []*manifest.Pipeline
	add := func(p *manifest.Pipeline) {
		if p != nil && !need[p] {
			need[p] = true
			todo = append(todo, p)
		}
	}
	for _, e := range exports {
		add(m.Pipeline(e))
	}
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		add(p.Build)
		for _, s := range p.Stages {
			for _, in := range s.Inputs {
				if in.Origin != "org.osbuild.pipeline" {
					continue
				}
				for _, r := range in.References {
					add(m.Pipeline(r.ID))
				}
			}
		}
	}
	return need
}
