package cli

import (
	"sort"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
	"github.com/osbuild-vm/osbuild-vm/engine/monitor"
)

// monitorAdapter forwards the builder's progress to the chosen monitor.
type monitorAdapter struct {
	m monitor.Monitor
	p *manifest.Pipeline
}

func (a *monitorAdapter) BeginPipeline(i, n int, p *manifest.Pipeline) {
	a.p = p
	a.m.PipelineStarted(monitor.Pipeline{
		Name: p.Name, ID: p.ID, Build: buildName(p), Runner: p.Runner,
		SourceEpoch: p.SourceEpoch, Stages: len(p.Stages), Index: i, Count: n,
	})
}

func (a *monitorAdapter) BeginStage(j, n int, s *manifest.Stage) {
	a.m.StageStarted(monitor.Stage{Type: s.Type, ID: s.ID, Options: s.Options, Index: j, Count: n})
}

func (a *monitorAdapter) StageOutput(s *manifest.Stage, stream, text string) {
	a.m.Output(text, "stages/"+s.Type)
}

func (a *monitorAdapter) EndStage(s *manifest.Stage, r *build.StageResult) {
	a.m.StageFinished(monitor.StageResult{Type: s.Type, ID: s.ID, Success: r.Success, Metadata: r.Metadata})
}

func (a *monitorAdapter) EndPipeline(p *manifest.Pipeline, ok bool) {
	a.m.PipelineFinished(monitor.Pipeline{Name: p.Name, ID: p.ID, Build: buildName(p), Stages: len(p.Stages)})
}

func (a *monitorAdapter) Exported(name, dir string) {
	a.m.Output("exported "+name+" to "+dir+"\n", "osbuild-vm.export")
}

func (a *monitorAdapter) Notice(text string) {
	a.m.Output(text+"\n", "osbuild-vm")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
