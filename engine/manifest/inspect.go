package manifest

import (
	"cmp"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// Inspect returns exactly what `osbuild --inspect` prints for a valid
// manifest: the format's describe(with_id=True) written by json.dump
// (key order as built, not sorted) and a newline.
//
// A v2 pipeline used as a build pipeline without a "runner" of its own is
// printed with HostRunner, as osbuild prints its host-detected runner.
func (m *Manifest) Inspect() ([]byte, error) {
	var d *pyjson.Object
	if m.Version == 1 {
		d = m.describeV1()
	} else {
		d = m.describeV2()
	}
	b, err := pyjson.Dumps(d, false)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (m *Manifest) describeV1() *pyjson.Object {
	out := pyjson.NewObject("pipeline", m.describePipelineV1(m.byName("tree")))
	if asm := m.byName("assembler"); asm != nil {
		p, _ := out.Get("pipeline")
		p.(*pyjson.Object).Set("assembler", describeStageV1(asm.Stages[0]))
	}
	if len(m.SourceList) > 0 {
		sources := &pyjson.Object{}
		for _, s := range m.SourceList {
			name := s.Type
			if name == "org.osbuild.curl" {
				name = "org.osbuild.files"
			}
			sources.Set(name, s.desc)
		}
		out.Set("sources", sources)
	}
	return out
}

func (m *Manifest) describePipelineV1(p *Pipeline) *pyjson.Object {
	d := &pyjson.Object{}
	if p.Build != nil {
		d.Set("build", pyjson.NewObject(
			"pipeline", m.describePipelineV1(p.Build),
			"runner", p.v1BuildRunner))
	}
	if len(p.Stages) > 0 {
		stages := make([]any, len(p.Stages))
		for i, s := range p.Stages {
			stages[i] = describeStageV1(s)
		}
		d.Set("stages", stages)
	}
	return d
}

func describeStageV1(s *Stage) *pyjson.Object {
	d := pyjson.NewObject("name", s.Type)
	if s.options.Len() > 0 {
		d.Set("options", s.options)
	}
	d.Set("id", s.ID)
	return d
}

func (m *Manifest) describeV2() *pyjson.Object {
	runners := m.buildRunners()
	pipelines := make([]any, len(m.Pipelines))
	for i, p := range m.Pipelines {
		pipelines[i] = describePipelineV2(p, runners)
	}
	out := pyjson.NewObject("version", "2", "pipelines", pipelines)
	if m.metadata.Len() > 0 {
		out.Set("metadata", m.metadata)
	}
	if len(m.SourceList) > 0 {
		sources := &pyjson.Object{}
		for _, s := range m.SourceList {
			sources.Set(s.Type, s.desc)
		}
		out.Set("sources", sources)
	}
	return out
}

// buildRunners maps the ID of every pipeline used as a build pipeline to
// the runner it is described with (v2.py describe's runners).
func (m *Manifest) buildRunners() map[string]string {
	runners := map[string]string{}
	for _, p := range m.Pipelines {
		if p.Build != nil {
			runners[p.Build.ID] = cmp.Or(p.Runner, m.HostRunner)
		}
	}
	return runners
}

func describePipelineV2(p *Pipeline, runners map[string]string) *pyjson.Object {
	d := pyjson.NewObject("name", p.Name)
	if p.Build != nil {
		d.Set("build", p.Build.ID)
	}
	if r := runners[p.ID]; r != "" && p.ID != "" {
		d.Set("runner", r)
	}
	if len(p.Stages) > 0 {
		stages := make([]any, len(p.Stages))
		for i, s := range p.Stages {
			stages[i] = describeStageV2(s)
		}
		d.Set("stages", stages)
	}
	return d
}

func describeStageV2(s *Stage) *pyjson.Object {
	d := pyjson.NewObject("type", s.Type, "id", s.ID)
	if s.options.Len() > 0 {
		d.Set("options", s.options)
	}
	if len(s.deviceOrder) > 0 {
		devs := &pyjson.Object{}
		for _, name := range s.deviceOrder {
			dev := s.Devices[name]
			dd := pyjson.NewObject("type", dev.Type)
			if dev.options.Len() > 0 {
				dd.Set("options", dev.options)
			}
			devs.Set(name, dd)
		}
		d.Set("devices", devs)
	}
	if len(s.Mounts) > 0 {
		mounts := make([]any, len(s.Mounts))
		for i, mnt := range s.Mounts {
			mounts[i] = describeMount(mnt)
		}
		d.Set("mounts", mounts)
	}
	if len(s.inputOrder) > 0 {
		ins := &pyjson.Object{}
		for _, name := range s.inputOrder {
			ins.Set(name, describeInput(s.Inputs[name]))
		}
		d.Set("inputs", ins)
	}
	return d
}

func describeMount(m *Mount) *pyjson.Object {
	var target any
	if m.hasTarget {
		target = m.Target
	}
	d := pyjson.NewObject("name", m.Name, "type", m.Type, "target", target)
	if m.Source != "" {
		d.Set("source", m.Source)
	}
	if m.options.Len() > 0 {
		d.Set("options", m.options)
	}
	if pyjson.Truthy(m.partition) {
		d.Set("partition", m.partition)
	}
	return d
}

func describeInput(in *Input) *pyjson.Object {
	d := pyjson.NewObject("type", in.Type, "origin", in.Origin)
	if in.options.Len() > 0 {
		d.Set("options", in.options)
	}
	if in.refs.Len() > 0 {
		d.Set("references", in.refs)
	}
	return d
}
