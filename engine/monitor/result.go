package monitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Result collects a run's outcome and prints it as osbuild's --json
// document. Add pipelines in manifest order; the document keeps it.
type Result struct {
	pipelines []*pipelineResult
	sources   []SourceResult
}

type pipelineResult struct {
	name, id, build string
	ran             bool
	stages          []StageResult
	metadata        []stageMeta // stage type -> merged metadata, in stage order
}

type stageMeta struct {
	typ string
	md  map[string]json.RawMessage
}

// Pipeline declares a pipeline of the manifest (all of them, built or
// not, in manifest order). build is the build pipeline's name ("" for
// none); v1 documents nest by it.
func (r *Result) Pipeline(name, id, build string) {
	r.pipelines = append(r.pipelines, &pipelineResult{name: name, id: id, build: build})
}

func (r *Result) find(name string) *pipelineResult {
	for _, p := range r.pipelines {
		if p.name == name {
			return p
		}
	}
	p := &pipelineResult{name: name}
	r.pipelines = append(r.pipelines, p)
	return p
}

// Stage records a stage that ran in pipeline, and its metadata.
func (r *Result) Stage(pipeline string, s StageResult) {
	p := r.find(pipeline)
	p.ran = true
	p.stages = append(p.stages, s)
	r.Metadata(pipeline, s.Type, s.Metadata)
}

// Metadata adds a stage's metadata object to a pipeline, for pipelines
// taken from the store (their metadata comes from store.Object.Meta).
// Objects of stages of the same type merge, as osbuild's output does.
func (r *Result) Metadata(pipeline, stageType string, md json.RawMessage) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(md, &obj) != nil || len(obj) == 0 {
		return
	}
	p := r.find(pipeline)
	for _, m := range p.metadata {
		if m.typ == stageType {
			for k, v := range obj {
				m.md[k] = v
			}
			return
		}
	}
	p.metadata = append(p.metadata, stageMeta{typ: stageType, md: obj})
}

// Source records the outcome of a source type.
func (r *Result) Source(s SourceResult) { r.sources = append(r.sources, s) }

// Success reports whether every source and stage succeeded.
func (r *Result) Success() bool {
	for _, s := range r.sources {
		if !s.Success() {
			return false
		}
	}
	for _, p := range r.pipelines {
		for _, s := range p.stages {
			if !s.Success {
				return false
			}
		}
	}
	return true
}

// WriteJSON writes the result document for manifest format version "1" or
// "2", followed by a newline.
func (r *Result) WriteJSON(w io.Writer, version string) error {
	var doc any
	switch version {
	case "1":
		doc = r.v1()
	case "2":
		doc = r.v2()
	default:
		return fmt.Errorf("write result: manifest version %q: use 1 or 2", version)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// ordered is a JSON object that keeps its keys in insertion order.
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
