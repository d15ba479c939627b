package validate

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
)

// validateV2 follows osbuild/formats/v2.py validate(): the format schema,
// each source, each stage and each of its devices, inputs and mounts.
func (v *Validator) validateV2(r *Result, doc map[string]any) error {
	if err := v.checkFormat(r, nil, 2, doc); err != nil {
		return err
	}
	sources, _ := doc["sources"].(map[string]any)
	for _, name := range sortedKeys(sources) {
		v.module(r, []any{"sources", name}, modules.Source, name, 2, sources[name])
	}
	pipelines, _ := doc["pipelines"].([]any)
	for i, p := range pipelines {
		pl, _ := p.(map[string]any)
		stages, _ := pl["stages"].([]any)
		for j, s := range stages {
			if stage, ok := s.(map[string]any); ok {
				v.stageV2(r, []any{"pipelines", i, "stages", j}, stage)
			}
		}
	}
	return nil
}

var stageParts = []struct {
	kind  modules.Kind
	group string
}{{modules.Device, "devices"}, {modules.Input, "inputs"}, {modules.Mount, "mounts"}}

func (v *Validator) stageV2(r *Result, path []any, stage map[string]any) {
	name, ok := stage["type"].(string)
	if !ok {
		return // the format schema reports it
	}
	v.module(r, path, modules.Stage, name, 2, stage)
	for _, part := range stageParts {
		items := partItems(stage[part.group])
		for _, key := range sortedKeys(items) {
			mod, _ := items[key].(map[string]any)
			if typ, _ := mod["type"].(string); typ != "" {
				v.module(r, append(slices.Clone(path), part.group, key), part.kind, typ, 2, mod)
			}
		}
	}
}

// partItems returns a stage's devices, inputs or mounts by name; mounts
// are a list keyed by their "name", as osbuild does.
func partItems(v any) map[string]any {
	switch t := v.(type) {
	case map[string]any:
		return t
	case []any:
		items := map[string]any{}
		for _, e := range t {
			m, _ := e.(map[string]any)
			if name, ok := m["name"].(string); ok {
				items[name] = m
			}
		}
		return items
	}
	return nil
}

// validateV1 follows osbuild/formats/v1.py validate(): the build pipeline
// is validated as a manifest of its own, re-rooted at pipeline.build.
func (v *Validator) validateV1(r *Result, doc map[string]any, prefix []any) error {
	if err := v.checkFormat(r, prefix, 1, doc); err != nil {
		return err
	}
	at := func(elems ...any) []any { return append(slices.Clone(prefix), elems...) }
	pipeline, _ := doc["pipeline"].(map[string]any)
	build, _ := pipeline["build"].(map[string]any)
	if bp, ok := build["pipeline"].(map[string]any); ok && len(bp) > 0 {
		if err := v.validateV1(r, map[string]any{"pipeline": bp}, at("pipeline", "build")); err != nil {
			return err
		}
	}
	stages, _ := pipeline["stages"].([]any)
	for i, s := range stages {
		stage, _ := s.(map[string]any)
		if name, ok := stage["name"].(string); ok {
			v.module(r, at("pipeline", "stages", i), modules.Stage, name, 1, stage)
		}
	}
	if asm, ok := pipeline["assembler"].(map[string]any); ok && len(asm) > 0 {
		if name, ok := asm["name"].(string); ok {
			v.module(r, at("pipeline", "assembler"), modules.Assembler, name, 1, asm)
		}
	}
	sources, _ := doc["sources"].(map[string]any)
	for _, name := range sortedKeys(sources) {
		typ := name
		if typ == "org.osbuild.files" {
			typ = "org.osbuild.curl"
		}
		v.module(r, at("sources", typ), modules.Source, typ, 1, sources[name])
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var printer = message.NewPrinter(language.Und)

// check validates value and adds one problem per failing keyword. Like
// Python's jsonschema.iter_errors, it descends through properties, items
// and references, but reports a failed oneOf/anyOf/not as one problem.
func check(r *Result, base []any, sch *jsonschema.Schema, value any) {
	err := sch.Validate(value)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			r.add(base, err.Error())
		}
		return
	}
	walkError(r, base, value, ve)
}

func walkError(r *Result, base []any, value any, e *jsonschema.ValidationError) {
	switch k := e.ErrorKind.(type) {
	case *kind.OneOf:
		msg := "is not valid under any of the given schemas"
		if len(k.Subschemas) > 1 {
			msg = "is valid under more than one of the given schemas"
		}
		r.add(instancePath(base, value, e.InstanceLocation), msg+firstCause(e))
		return
	case *kind.AnyOf:
		r.add(instancePath(base, value, e.InstanceLocation), "is not valid under any of the given schemas"+firstCause(e))
		return
	}
	if len(e.Causes) == 0 {
		r.add(instancePath(base, value, e.InstanceLocation), e.ErrorKind.LocalizedString(printer))
		return
	}
	for _, c := range e.Causes {
		walkError(r, base, value, c)
	}
}

// firstCause names the first reason the first alternative failed, as a
// hint of what was meant.
func firstCause(e *jsonschema.ValidationError) string {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	if _, isGroup := e.ErrorKind.(*kind.Group); isGroup {
		return ""
	}
	return " (first: " + e.ErrorKind.LocalizedString(printer) + ")"
}

// instancePath turns a JSON pointer's tokens into keys and indexes,
// indexes where the value there is an array.
func instancePath(base []any, value any, tokens []string) []any {
	path := slices.Clone(base)
	cur := value
	for _, tok := range tokens {
		switch t := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(t) {
				path, cur = append(path, i), t[i]
				continue
			}
		case map[string]any:
			cur = t[tok]
		}
		path = append(path, strings.Clone(tok))
	}
	return path
}
