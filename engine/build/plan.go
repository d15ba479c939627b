package build

import (
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// Plan returns the pipelines to build for targets (export names or IDs),
// dependencies first, as osbuild's Manifest.depsolve: starting from the
// targets, skipping pipelines whose tree is available, and looking at a
// pipeline's build root and inputs only for the stages after its deepest
// available one. have says whether object id is available; Plan asks it
// about the same IDs, in the same order, as a run's planning does, so a
// caller can use it to learn which objects a run would reuse (a remote
// cache fetches exactly those before the run).
func Plan(m *manifest.Manifest, targets []string, have func(id string) bool) ([]*manifest.Pipeline, error) {
	var check []*manifest.Pipeline
	for _, t := range targets {
		p := m.Pipeline(t)
		if p == nil {
			return nil, fmt.Errorf("export %q: no such pipeline", t)
		}
		check = append(check, p)
	}
	var order []*manifest.Pipeline
	for len(check) > 0 {
		p := check[len(check)-1]
		check = check[:len(check)-1]
		if have(p.ID) {
			continue
		}
		order = moveToEnd(order, p)
		if p.Build != nil {
			check = append(check, p.Build)
		}
		check = append(check, stageDeps(m, p, have)...)
	}
	for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
		order[i], order[j] = order[j], order[i]
	}
	return order, nil
}

func moveToEnd(order []*manifest.Pipeline, p *manifest.Pipeline) []*manifest.Pipeline {
	for i, q := range order {
		if q == p {
			order = append(order[:i], order[i+1:]...)
			break
		}
	}
	return append(order, p)
}

// stageDeps lists the pipelines that p's stages after its deepest
// available one take as inputs.
func stageDeps(m *manifest.Manifest, p *manifest.Pipeline, have func(string) bool) []*manifest.Pipeline {
	var deps []*manifest.Pipeline
	for i := len(p.Stages) - 1; i >= 0; i-- {
		s := p.Stages[i]
		if have(s.ID) {
			break
		}
		for _, name := range sortedKeys(s.Inputs) {
			in := s.Inputs[name]
			if in.Origin != "org.osbuild.pipeline" {
				continue
			}
			for _, r := range in.References {
				if q := m.Pipeline(r.ID); q != nil {
					deps = append(deps, q)
				}
			}
		}
	}
	return deps
}
