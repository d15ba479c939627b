package build

import "github.com/osbuild-vm/osbuild-vm/engine/manifest"

// Monitor hears about progress as it happens. Indexes are 1-based.
type Monitor interface {
	BeginPipeline(i, n int, p *manifest.Pipeline)
	BeginStage(j, m int, s *manifest.Stage)
	StageOutput(s *manifest.Stage, stream, text string)
	EndStage(s *manifest.Stage, r *StageResult)
	EndPipeline(p *manifest.Pipeline, ok bool)
	Exported(name, dir string)
	// Notice is one line the user should read: what an export left out,
	// a store object found damaged and rebuilt.
	Notice(text string)
}

type nopMonitor struct{}

func (nopMonitor) BeginPipeline(int, int, *manifest.Pipeline)  {}
func (nopMonitor) BeginStage(int, int, *manifest.Stage)        {}
func (nopMonitor) StageOutput(*manifest.Stage, string, string) {}
func (nopMonitor) EndStage(*manifest.Stage, *StageResult)      {}
func (nopMonitor) EndPipeline(*manifest.Pipeline, bool)        {}
func (nopMonitor) Exported(string, string)                     {}
func (nopMonitor) Notice(string)                               {}
