package manifest

import (
	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// loadStageV2 follows v2.py load_stage: devices (parents first), inputs,
// mounts, then the stage ID.
func (m *Manifest) loadStageV2(p *Pipeline, v any, path string, epoch any) error {
	desc, err := asObject(v, path)
	if err != nil {
		return err
	}
	s := &Stage{}
	if s.Type, err = needString(desc, "type", path); err != nil {
		return err
	}
	if s.options, err = getObject(desc, "options", path); err != nil {
		return err
	}
	p.addStage(s, epoch)
	if err := s.loadDevices(desc, path); err != nil {
		return err
	}
	if err := m.loadInputsV2(s, desc, path); err != nil {
		return err
	}
	if err := s.loadMounts(desc, path); err != nil {
		return err
	}
	s.finish()
	return nil
}

func (m *Manifest) loadInputsV2(s *Stage, desc *pyjson.Object, path string) error {
	inputs, err := getObject(desc, "inputs", path)
	if err != nil {
		return err
	}
	for _, name := range inputs.Keys() {
		v, _ := inputs.Get(name)
		in, err := m.loadInputV2(s, name, v, jpath(path, "inputs", name))
		if err != nil {
			return err
		}
		s.addInput(in)
	}
	return nil
}

func (m *Manifest) loadInputV2(s *Stage, name string, v any, path string) (*Input, error) {
	desc, err := asObject(v, path)
	if err != nil {
		return nil, err
	}
	typ, err := needString(desc, "type", path)
	if err != nil {
		return nil, err
	}
	origin, err := needString(desc, "origin", path)
	if err != nil {
		return nil, err
	}
	if origin != "org.osbuild.source" && origin != "org.osbuild.pipeline" {
		return nil, errorf(ErrStructure, jpath(path, "origin"), "use org.osbuild.source or org.osbuild.pipeline", "unknown origin %q", origin)
	}
	options, err := getObject(desc, "options", path)
	if err != nil {
		return nil, err
	}
	in := newInput(name, typ, origin, options)
	refs, err := references(desc, path)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		id, err := m.resolveRef(s, origin, r.id, r.path)
		if err != nil {
			return nil, err
		}
		in.addRef(id, r.options)
	}
	return in, nil
}

// resolveRef turns a reference into what osbuild hashes: the pipeline's
// ID for "name:X", the checksum itself for sources (which must be an item
// of some source).
func (m *Manifest) resolveRef(s *Stage, origin, ref, path string) (string, error) {
	if origin == "org.osbuild.source" {
		if !m.sourceRefs[ref] {
			return "", errorf(ErrReference, path, "add the item to a source's \"items\" or fix the checksum",
				"unknown source item %q", ref)
		}
		return ref, nil
	}
	target, err := m.resolveName(ref, s.Pipeline.Name, path, nil)
	if err != nil {
		return "", err
	}
	if target == s.Pipeline {
		return "", errorf(ErrCycle, path, "a stage cannot consume its own pipeline", "pipeline %q refers to itself", target.Name)
	}
	if target.ID == "" {
		return "", errorf(ErrReference, path, "add stages to that pipeline or drop the reference",
			"pipeline %q has no stages, so it has no tree to reference", target.Name)
	}
	return target.ID, nil
}

type rawRef struct {
	id      string
	options *pyjson.Object
	path    string
}

// references reads the three forms of "references": a list of IDs, an
// object ID -> options, a list of {"id", "options"}.
func references(desc *pyjson.Object, path string) ([]rawRef, error) {
	v, ok := desc.Get("references")
	if !ok {
		return nil, nil
	}
	path = jpath(path, "references")
	switch t := v.(type) {
	case *pyjson.Object:
		return refsFromObject(t, path)
	case []any:
		return refsFromList(t, path)
	}
	return nil, wrongType(path, "array or object", v)
}

func refsFromObject(o *pyjson.Object, path string) ([]rawRef, error) {
	var out []rawRef
	for _, id := range o.Keys() {
		v, _ := o.Get(id)
		opts, err := optionsValue(v, jpath(path, id))
		if err != nil {
			return nil, err
		}
		out = append(out, rawRef{id: id, options: opts, path: jpath(path, id)})
	}
	return out, nil
}

func refsFromList(list []any, path string) ([]rawRef, error) {
	var out []rawRef
	for i, v := range list {
		p := jpath(path, i)
		switch t := v.(type) {
		case string:
			out = append(out, rawRef{id: t, options: &pyjson.Object{}, path: p})
		case *pyjson.Object:
			id, err := needString(t, "id", p)
			if err != nil {
				return nil, err
			}
			ov, _ := t.Get("options")
			opts, err := optionsValue(ov, jpath(p, "options"))
			if err != nil {
				return nil, err
			}
			out = append(out, rawRef{id: id, options: opts, path: p})
		default:
			return nil, wrongType(p, "string or object", v)
		}
	}
	return out, nil
}

// optionsValue accepts an options object; null (or absent) is {} as in
// osbuild's `options or {}`.
func optionsValue(v any, path string) (*pyjson.Object, error) {
	if v == nil {
		return &pyjson.Object{}, nil
	}
	return asObject(v, path)
}
