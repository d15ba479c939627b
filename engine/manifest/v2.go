package manifest

import (
	"encoding/json"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// loadV2 follows osbuild/formats/v2.py load(): metadata, sources, then the
// pipelines in order; a "name:X" reference resolves to the ID X has at
// that point, so it must name an earlier pipeline.
func loadV2(doc *pyjson.Object) (*Manifest, error) {
	m := &Manifest{Version: 2, Sources: map[string]json.RawMessage{}, sourceRefs: map[string]bool{}}
	var err error
	if m.metadata, err = getObject(doc, "metadata", "."); err != nil {
		return nil, err
	}
	m.Metadata = raw(m.metadata)
	if err := m.loadSourcesV2(doc); err != nil {
		return nil, err
	}
	pipelines, err := getArray(doc, "pipelines", ".")
	if err != nil {
		return nil, err
	}
	for i, v := range pipelines {
		if err := m.loadPipelineV2(v, jpath(".pipelines", i), pipelines[i+1:]); err != nil {
			return nil, err
		}
	}
	m.assignRunnersV2()
	return m, nil
}

func (m *Manifest) loadSourcesV2(doc *pyjson.Object) error {
	return m.loadSources(doc, m.sourceV2)
}

// sourceV2 reads a v2 source: "items" by ID and "options".
func (m *Manifest) sourceV2(name string, desc *pyjson.Object, path string) (*Source, error) {
	items, err := getObject(desc, "items", path)
	if err != nil {
		return nil, err
	}
	options, err := getObject(desc, "options", path)
	if err != nil {
		return nil, err
	}
	for _, id := range items.Keys() {
		if err := checkItemID(name, id, jpath(path, "items", id)); err != nil {
			return nil, err
		}
		m.sourceRefs[id] = true
	}
	return &Source{Type: name, Items: raw(items), Options: raw(options),
		items: items, desc: pyjson.NewObject("items", items)}, nil
}

func (m *Manifest) loadPipelineV2(v any, path string, later []any) error {
	desc, err := asObject(v, path)
	if err != nil {
		return err
	}
	p := &Pipeline{}
	if p.Name, err = needString(desc, "name", path); err != nil {
		return err
	}
	if m.byName(p.Name) != nil {
		return errorf(ErrDuplicate, jpath(path, "name"), "give every pipeline its own name", "pipeline name %q is used twice", p.Name)
	}
	if p.declaredRunner, _, err = getString(desc, "runner", path); err != nil {
		return err
	}
	if err := m.resolveBuild(desc, p, path, later); err != nil {
		return err
	}
	epoch, err := sourceEpoch(desc, path)
	if err != nil {
		return err
	}
	if epoch != nil {
		n, _ := epoch.(pyjson.Number).Int64()
		p.SourceEpoch = &n
	}
	m.Pipelines = append(m.Pipelines, p)
	stages, err := getArray(desc, "stages", path)
	if err != nil {
		return err
	}
	for i, sv := range stages {
		if err := m.loadStageV2(p, sv, jpath(path, "stages", i), epoch); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manifest) byName(name string) *Pipeline {
	for _, p := range m.Pipelines {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// sourceEpoch returns "source-epoch", an integer, as written (nil when
// absent): it is hashed as json.dumps writes the int.
func sourceEpoch(desc *pyjson.Object, path string) (any, error) {
	v, ok := desc.Get("source-epoch")
	if !ok {
		return nil, nil
	}
	n, isNum := v.(pyjson.Number)
	if !isNum {
		return nil, wrongType(jpath(path, "source-epoch"), "integer", v)
	}
	if _, ok := n.Int64(); !ok {
		return nil, errorf(ErrStructure, jpath(path, "source-epoch"), "use seconds since 1970 as an integer",
			"source-epoch %s is not a 64-bit integer", n)
	}
	return n, nil
}

// resolveBuild sets p.Build from "build": "name:X". X must come earlier;
// naming a later pipeline that (in)directly builds with p is a cycle.
func (m *Manifest) resolveBuild(desc *pyjson.Object, p *Pipeline, path string, later []any) error {
	build, ok, err := getString(desc, "build", path)
	if err != nil || !ok || build == "" {
		return err
	}
	path = jpath(path, "build")
	target, err := m.resolveName(build, p.Name, path, later)
	if err != nil {
		return err
	}
	if target.ID != "" {
		p.Build = target
	}
	return nil
}

// resolveName finds the pipeline a "name:X" string refers to among those
// loaded so far (a bare ID is accepted when it is a loaded pipeline's).
func (m *Manifest) resolveName(ref, self, path string, later []any) (*Pipeline, error) {
	name, isName := strings.CutPrefix(ref, "name:")
	if !isName {
		if p := m.Pipeline(ref); p != nil && p.ID == ref {
			return p, nil
		}
		return nil, errorf(ErrReference, path, `refer to a pipeline as "name:NAME"`, "unknown pipeline %q", ref)
	}
	if p := m.byName(name); p != nil {
		return p, nil
	}
	if name == self {
		return nil, errorf(ErrCycle, path, "a pipeline cannot build with or consume itself", "pipeline %q refers to itself", name)
	}
	if laterBuilds(later)[name] != "" {
		if buildsWith(later, name, self) {
			return nil, errorf(ErrCycle, path, "build references must not form a cycle",
				"pipelines %q and %q build with each other", self, name)
		}
		return nil, errorf(ErrReference, path, "move pipeline \""+name+"\" before the pipeline that uses it",
			"pipeline %q is used before it is defined", name)
	}
	return nil, errorf(ErrReference, path, "define that pipeline or fix the name", "unknown pipeline %q", name)
}

// assignRunnersV2 does what the end of v2 load() does: a pipeline runs
// with the runner written on its build pipeline (the last pipeline with
// that ID, as osbuild's dict keeps the last).
func (m *Manifest) assignRunnersV2() {
	byID := map[string]string{}
	for _, p := range m.Pipelines {
		byID[p.ID] = p.declaredRunner
	}
	for _, p := range m.Pipelines {
		if p.Build != nil {
			p.Runner = byID[p.Build.ID]
		}
	}
}

// laterBuilds maps the names of pipelines not loaded yet to their "build"
// (a name without "name:", or "-" when they have none).
func laterBuilds(later []any) map[string]string {
	builds := map[string]string{}
	for _, v := range later {
		o, ok := v.(*pyjson.Object)
		if !ok {
			continue
		}
		name, _, _ := getString(o, "name", "")
		build, _, _ := getString(o, "build", "")
		build, _ = strings.CutPrefix(build, "name:")
		if build == "" {
			build = "-"
		}
		builds[name] = build
	}
	return builds
}

// buildsWith reports whether pipeline from, following build references
// among the later pipelines, reaches target.
func buildsWith(later []any, from, target string) bool {
	builds := laterBuilds(later)
	for seen := 0; seen <= len(builds); seen++ {
		next, ok := builds[from]
		if !ok {
			return false
		}
		if next == target {
			return true
		}
		from = next
	}
	return false
}
