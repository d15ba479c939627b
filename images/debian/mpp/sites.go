package mpp

import (
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// stageInputSites finds the directives in .pipelines[N].stages[M].inputs.
// Anything malformed on the way is left for manifest validation, which
// runs on the pinned manifest.
func stageInputSites(top *pyjson.Object) ([]*site, error) {
	var sites []*site
	pipelines, _ := get(top, "pipelines").([]any)
	for i, pl := range pipelines {
		stages, _ := get(pl, "stages").([]any)
		for j, st := range stages {
			inputs, ok := get(st, "inputs").(*pyjson.Object)
			if !ok {
				continue
			}
			for _, name := range inputs.Keys() {
				path := jkey(fmt.Sprintf(".pipelines[%d].stages[%d].inputs", i, j), name)
				s, err := inputSite(inputs, name, path)
				if err != nil {
					return nil, err
				}
				if s != nil {
					sites = append(sites, s)
				}
			}
		}
	}
	return sites, nil
}

// inputSite checks one stage input that may hold a directive.
func inputSite(inputs *pyjson.Object, name, path string) (*site, error) {
	in, ok := get(inputs, name).(*pyjson.Object)
	if !ok || !in.Has(Directive) {
		return nil, nil
	}
	switch {
	case get(in, "type") != "org.osbuild.files":
		return nil, badf(path, "the input's type must be org.osbuild.files")
	case get(in, "origin") != "org.osbuild.source":
		return nil, badf(path, "the input's origin must be org.osbuild.source")
	case in.Has("references"):
		return nil, badf(path, "the input has references too; the directive replaces them")
	}
	v, _ := in.Get(Directive)
	req, err := parseDirective(jkey(path, Directive), v)
	if err != nil {
		return nil, err
	}
	return &site{inputs: inputs, name: name, input: in, req: req}, nil
}

// get returns o[key] when o is an object, else nil.
func get(o any, key string) any {
	obj, ok := o.(*pyjson.Object)
	if !ok {
		return nil
	}
	v, _ := obj.Get(key)
	return v
}
