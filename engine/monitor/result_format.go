package monitor

import "encoding/json"

// v2 is formats/v2.py output().
func (r *Result) v2() ordered {
	doc := ordered{{"type", "result"}, {"success", true}}
	if failed := r.failedSource(); failed != nil {
		doc = ordered{{"type", "error"}, {"success", false}, {"error", ordered{
			{"type", "org.osbuild.error.source"},
			{"details", ordered{{"source", ordered{{"type", failed.Type}, {"output", firstError(failed)}}}}},
		}}}
	} else if st := r.failedStage(); st != nil {
		doc = ordered{{"type", "error"}, {"success", false}, {"error", ordered{
			{"type", "org.osbuild.error.stage"},
			{"details", ordered{{"stage", ordered{{"id", st.ID}, {"type", st.Type}, {"output", st.Output}, {"error", rawOrNull(st.Error)}}}}},
		}}}
	} else {
		doc = append(doc, kv{"metadata", r.metadataDoc()})
	}
	return append(doc, kv{"sources", r.sourcesDoc()}, kv{"log", r.logDoc()})
}

func (r *Result) failedSource() *SourceResult {
	for i := range r.sources {
		if !r.sources[i].Success() {
			return &r.sources[i]
		}
	}
	return nil
}

func firstError(s *SourceResult) string {
	for _, it := range s.Items {
		if it.Error != "" {
			return it.Error
		}
	}
	return "cannot find failing source item"
}

func (r *Result) failedStage() *StageResult {
	for _, p := range r.pipelines {
		for i := range p.stages {
			if !p.stages[i].Success {
				return &p.stages[i]
			}
		}
	}
	return nil
}

func rawOrNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("null")
	}
	return m
}

func (r *Result) metadataDoc() ordered {
	doc := ordered{}
	for _, p := range r.pipelines {
		if len(p.metadata) == 0 {
			continue
		}
		stages := ordered{}
		for _, m := range p.metadata {
			stages = append(stages, kv{m.typ, m.md})
		}
		doc = append(doc, kv{p.name, stages})
	}
	return doc
}

func (r *Result) sourcesDoc() ordered {
	doc := ordered{{"success", r.failedSource() == nil}}
	for _, s := range r.sources {
		items := []ordered{}
		for _, it := range s.Items {
			item := ordered{}
			if it.Error == "" {
				item = append(item, kv{"cached", it.Cached})
			}
			item = append(item, kv{"checksum", it.Checksum})
			if it.Error != "" {
				item = append(item, kv{"error", it.Error})
			}
			items = append(items, item)
		}
		doc = append(doc, kv{s.Type, items})
	}
	return doc
}

func (r *Result) logDoc() ordered {
	doc := ordered{}
	for _, p := range r.pipelines {
		if !p.ran {
			continue
		}
		var log []ordered
		for _, s := range p.stages {
			e := ordered{{"id", s.ID}, {"type", s.Type}, {"output", s.Output}}
			if !s.Success {
				e = append(e, kv{"success", false})
				if len(s.Error) > 0 && string(s.Error) != "null" {
					e = append(e, kv{"error", s.Error})
				}
			}
			log = append(log, e)
		}
		doc = append(doc, kv{p.name, log})
	}
	return doc
}

// v1 is formats/v1.py output(): the "tree" pipeline with its build
// pipelines nested under "build", and the "assembler" stage.
func (r *Result) v1() ordered {
	doc := r.v1Pipeline("tree", 0)
	asm := r.lookup("assembler")
	if asm == nil || len(asm.stages) == 0 {
		return doc
	}
	stage := v1Stage(asm.stages[0])
	doc = append(doc, kv{"assembler", stage})
	if !asm.stages[0].Success {
		doc[0].v = false
	}
	return doc
}

func (r *Result) lookup(name string) *pipelineResult {
	for _, p := range r.pipelines {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (r *Result) v1Pipeline(name string, depth int) ordered {
	p := r.lookup(name)
	if p == nil {
		return ordered{{"success", true}}
	}
	success := true
	for _, s := range p.stages {
		success = success && s.Success
	}
	doc := ordered{{"success", success}}
	if p.build != "" && depth < 64 {
		build := r.v1Pipeline(p.build, depth+1)
		doc = append(doc, kv{"build", build})
		doc[0].v = build[0].v
	}
	if len(p.stages) > 0 {
		stages := make([]ordered, len(p.stages))
		for i, s := range p.stages {
			stages[i] = v1Stage(s)
		}
		doc = append(doc, kv{"stages", stages})
	}
	return doc
}

func v1Stage(s StageResult) ordered {
	return ordered{{"id", s.ID}, {"type", s.Type}, {"success", s.Success},
		{"error", rawOrNull(s.Error)}, {"output", s.Output}, {"metadata", rawOrNull(s.Metadata)}}
}
