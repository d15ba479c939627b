package manifest

import (
	"encoding/json"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// v1SourceItems is where each v1 source type keeps its items, after v1's
// org.osbuild.files has been renamed org.osbuild.curl (v1.py load_source).
var v1SourceItems = map[string]string{
	"org.osbuild.curl":    "urls",
	"org.osbuild.ostree":  "commits",
	"org.osbuild.librepo": "items",
}

// loadV1 follows osbuild/formats/v1.py load().
func loadV1(doc *pyjson.Object) (*Manifest, error) {
	m := &Manifest{Version: 1, Sources: map[string]json.RawMessage{}, metadata: &pyjson.Object{}}
	m.Metadata = raw(m.metadata)
	pipeline, err := getObject(doc, "pipeline", ".")
	if err != nil {
		return nil, err
	}
	tree, err := m.loadPipelineV1(pipeline, ".pipeline", 0)
	if err != nil {
		return nil, err
	}
	if err := m.loadAssembler(pipeline, tree); err != nil {
		return nil, err
	}
	return m, m.loadSourcesV1(doc)
}

func (m *Manifest) loadPipelineV1(desc *pyjson.Object, path string, depth int) (*Pipeline, error) {
	p := &Pipeline{Name: "tree"}
	if depth > 0 {
		p.Name = strings.Repeat("build-", depth-1) + "build"
	}
	if err := m.loadBuildV1(desc, p, path, depth); err != nil {
		return nil, err
	}
	m.Pipelines = append(m.Pipelines, p)
	stages, err := getArray(desc, "stages", path)
	if err != nil {
		return nil, err
	}
	for i, v := range stages {
		if err := loadStageV1(p, v, jpath(path, "stages", i)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// loadBuildV1 reads "build": {"pipeline": …, "runner": …}; the runner is
// what this pipeline's stages run with.
func (m *Manifest) loadBuildV1(desc *pyjson.Object, p *Pipeline, path string, depth int) error {
	bv, ok := desc.Get("build")
	if !ok || !pyjson.Truthy(bv) {
		return nil
	}
	path = jpath(path, "build")
	build, err := asObject(bv, path)
	if err != nil {
		return err
	}
	if bp, _ := build.Get("pipeline"); pyjson.Truthy(bp) {
		bdesc, err := asObject(bp, jpath(path, "pipeline"))
		if err != nil {
			return err
		}
		b, err := m.loadPipelineV1(bdesc, jpath(path, "pipeline"), depth+1)
		if err != nil {
			return err
		}
		if b.ID != "" {
			p.Build = b
		}
	}
	if p.v1BuildRunner, err = needString(build, "runner", path); err != nil {
		return err
	}
	p.Runner = p.v1BuildRunner
	return nil
}

func loadStageV1(p *Pipeline, v any, path string) error {
	desc, err := asObject(v, path)
	if err != nil {
		return err
	}
	s := &Stage{}
	if s.Type, err = needString(desc, "name", path); err != nil {
		return err
	}
	if s.options, err = getObject(desc, "options", path); err != nil {
		return err
	}
	p.addStage(s, nil)
	switch s.Type {
	case "org.osbuild.rpm":
		err = s.rpmInputV1(path)
	case "org.osbuild.ostree":
		err = s.ostreeInputV1(path)
	}
	if err != nil {
		return err
	}
	s.finish()
	return nil
}

// rpmInputV1 adds the "packages" input v1.py derives from the rpm stage's
// options: each package is a checksum or {"checksum", "check_gpg"}.
func (s *Stage) rpmInputV1(path string) error {
	pkgs, err := getArray(s.options, "packages", jpath(path, "options"))
	path = jpath(path, "options", "packages")
	if err != nil {
		return err
	}
	if pkgs == nil {
		return errorf(ErrStructure, path, "list the packages' checksums", "the rpm stage needs \"packages\"")
	}
	in := newInput("packages", "org.osbuild.files", "org.osbuild.source", &pyjson.Object{})
	for i, v := range pkgs {
		id, opts, err := rpmPackageV1(v, jpath(path, i))
		if err != nil {
			return err
		}
		in.addRef(id, opts)
	}
	s.addInput(in)
	return nil
}

func rpmPackageV1(v any, path string) (string, *pyjson.Object, error) {
	switch t := v.(type) {
	case string:
		return t, nil, nil
	case *pyjson.Object:
		id, err := needString(t, "checksum", path)
		if err != nil {
			return "", nil, err
		}
		if gpg, _ := t.Get("check_gpg"); pyjson.Truthy(gpg) {
			return id, pyjson.NewObject("metadata", pyjson.NewObject("rpm.check_gpg", gpg)), nil
		}
		return id, nil, nil
	}
	return "", nil, wrongType(path, "string or object", v)
}

func (s *Stage) ostreeInputV1(path string) error {
	commit, err := needString(s.options, "commit", jpath(path, "options"))
	if err != nil {
		return err
	}
	ref, _, err := getString(s.options, "ref", jpath(path, "options"))
	if err != nil {
		return err
	}
	in := newInput("commits", "org.osbuild.ostree", "org.osbuild.source", &pyjson.Object{})
	var opts *pyjson.Object
	if ref != "" {
		opts = pyjson.NewObject("ref", ref)
	}
	in.addRef(commit, opts)
	s.addInput(in)
	return nil
}

// loadAssembler makes the "assembler" pipeline: same build and runner as
// the tree, one stage whose "tree" input references the tree pipeline.
func (m *Manifest) loadAssembler(pipeline *pyjson.Object, tree *Pipeline) error {
	av, ok := pipeline.Get("assembler")
	if !ok || !pyjson.Truthy(av) {
		return nil
	}
	path := ".pipeline.assembler"
	desc, err := asObject(av, path)
	if err != nil {
		return err
	}
	p := &Pipeline{Name: "assembler", Build: tree.Build, Runner: tree.Runner, v1BuildRunner: tree.v1BuildRunner}
	m.Pipelines = append(m.Pipelines, p)
	s := &Stage{Assembler: true}
	if s.Type, err = needString(desc, "name", path); err != nil {
		return err
	}
	if s.options, err = getObject(desc, "options", path); err != nil {
		return err
	}
	p.addStage(s, nil)
	in := newInput("tree", "org.osbuild.tree", "org.osbuild.pipeline", &pyjson.Object{})
	in.addRefNullable(tree.ID)
	s.addInput(in)
	s.finish()
	return nil
}

func (m *Manifest) loadSourcesV1(doc *pyjson.Object) error {
	return m.loadSources(doc, sourceV1)
}

// loadSources walks the top-level "sources" object in order, hands each
// description to parse (v1 and v2 read items differently) and records the
// result.
func (m *Manifest) loadSources(doc *pyjson.Object, parse func(name string, desc *pyjson.Object, path string) (*Source, error)) error {
	sources, err := getObject(doc, "sources", ".")
	if err != nil {
		return err
	}
	for _, name := range sources.Keys() {
		path := jpath(".sources", name)
		v, _ := sources.Get(name)
		desc, err := asObject(v, path)
		if err != nil {
			return err
		}
		src, err := parse(name, desc, path)
		if err != nil {
			return err
		}
		m.Sources[name] = raw(desc)
		m.SourceList = append(m.SourceList, src)
	}
	return nil
}

func sourceV1(name string, desc *pyjson.Object, path string) (*Source, error) {
	typ := name
	if typ == "org.osbuild.files" {
		typ = "org.osbuild.curl"
	}
	key, ok := v1SourceItems[typ]
	if !ok {
		return nil, errorf(ErrStructure, path, "use org.osbuild.files, org.osbuild.ostree or org.osbuild.librepo", "unknown v1 source type %q", name)
	}
	iv, ok := desc.Get(key)
	if !ok {
		return nil, errorf(ErrStructure, path, "list the items under \""+key+"\"", "missing %q", key)
	}
	if items, isObj := iv.(*pyjson.Object); isObj && typ != "org.osbuild.ostree" {
		for _, id := range items.Keys() {
			if err := checkItemID(typ, id, jpath(path, key, id)); err != nil {
				return nil, err
			}
		}
	}
	return &Source{Type: typ, Items: raw(iv), Options: raw(desc), items: iv, desc: desc}, nil
}
