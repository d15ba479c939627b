package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// The ID functions mirror osbuild's: one sha256 over a sequence of
// json.dumps() texts (pipeline.py Stage.id, inputs.py Input.calc_id,
// devices.py and mounts.py calc_id). A nil *string stands for Python's
// None.

type idHash struct{ h hash.Hash }

func newIDHash() *idHash { return &idHash{h: sha256.New()} }

// add writes json.dumps(v, sort_keys=sorted). Dumps fails only on types
// outside the pyjson model, which this package never passes.
func (h *idHash) add(v any, sorted bool) {
	b, _ := pyjson.Dumps(v, sorted)
	h.h.Write(b)
}

func (h *idHash) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

// orNone maps "" to Python's None.
func orNone(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Stage) computeID() string {
	h := newIDHash()
	h.add(s.Type, true)
	h.add(orNone(s.buildID), true)
	h.add(orNone(s.base), true)
	h.add(s.options, true)
	if s.sourceEpoch != nil {
		h.add(s.sourceEpoch, true)
	}
	if len(s.inputOrder) > 0 {
		ids := &pyjson.Object{}
		for _, name := range s.inputOrder {
			ids.Set(name, s.Inputs[name].ID)
		}
		h.add(ids, true)
	}
	if len(s.Mounts) > 0 {
		ids := make([]any, len(s.Mounts))
		for i, m := range s.Mounts {
			ids[i] = m.ID
		}
		h.add(ids, false)
	}
	return h.sum()
}

func (in *Input) computeID() string {
	h := newIDHash()
	h.add(in.Type, true)
	h.add(in.Origin, true)
	h.add(in.refs, true)
	h.add(in.options, true)
	return h.sum()
}

func (d *Device) computeID(parent *Device) string {
	h := newIDHash()
	h.add(d.Type, true)
	if parent != nil {
		h.add(parent.ID, true)
	}
	h.add(d.options, true)
	return h.sum()
}

func (m *Mount) computeID(dev *Device) string {
	h := newIDHash()
	h.add(m.Type, true)
	if dev != nil {
		h.add(dev.ID, true)
	}
	if pyjson.Truthy(m.partition) && m.partition != "" {
		h.add(m.partition, true)
	}
	if m.Target != "" {
		h.add(m.Target, true)
	}
	h.add(m.options, true)
	return h.sum()
}

// addStage appends a stage the way osbuild's Pipeline.add_stage does: its
// build is the pipeline's build ID and its base the previous stage's ID.
func (p *Pipeline) addStage(s *Stage, sourceEpoch any) {
	s.Pipeline = p
	if p.Build != nil {
		s.buildID = p.Build.ID
	}
	s.base = p.ID
	s.sourceEpoch = sourceEpoch
	s.Options = raw(s.options)
	p.Stages = append(p.Stages, s)
}

// finish computes the stage ID once its inputs and mounts are known and
// makes it the pipeline's ID.
func (s *Stage) finish() {
	s.ID = s.computeID()
	s.Pipeline.ID = s.ID
}

func newInput(name, typ, origin string, options *pyjson.Object) *Input {
	return &Input{Name: name, Type: typ, Origin: origin, refs: &pyjson.Object{},
		options: options, Options: raw(options)}
}

// addRef adds a reference as osbuild's Input.add_reference does: a later
// duplicate replaces the options but keeps the position.
func (in *Input) addRef(id string, options *pyjson.Object) {
	if options == nil {
		options = &pyjson.Object{}
	}
	if _, dup := in.refs.Get(id); dup {
		for i := range in.References {
			if in.References[i].ID == id {
				in.References[i].Options = raw(options)
			}
		}
	} else {
		in.References = append(in.References, Reference{ID: id, Options: raw(options)})
	}
	in.refs.Set(id, options)
}

func (s *Stage) addInput(in *Input) {
	in.ID = in.computeID()
	if s.Inputs == nil {
		s.Inputs = map[string]*Input{}
	}
	if _, dup := s.Inputs[in.Name]; !dup {
		s.inputOrder = append(s.inputOrder, in.Name)
	}
	s.Inputs[in.Name] = in
}

// addRefNullable adds a pipeline reference whose ID may be osbuild's None
// (a tree without stages), which json.dumps writes as the key "null".
func (in *Input) addRefNullable(id string) {
	if id != "" {
		in.addRef(id, nil)
		return
	}
	in.References = append(in.References, Reference{Options: json.RawMessage("{}")})
	in.refs.Set("null", &pyjson.Object{})
}
