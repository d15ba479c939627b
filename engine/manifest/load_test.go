package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		kind error
		path string
	}{
		{"truncated.json", ErrSyntax, "."},
		{"not-object.json", ErrStructure, "."},
		{"latin1.json", ErrSyntax, "."},
		{"version-3.json", ErrVersion, ".version"},
		{"version-int.json", ErrVersion, ".version"},
		{"build-missing.json", ErrReference, ".pipelines[0].build"},
		{"build-cycle.json", ErrCycle, ".pipelines[0].build"},
		{"build-forward.json", ErrReference, ".pipelines[0].build"},
		{"build-self.json", ErrCycle, ".pipelines[0].build"},
		{"duplicate-name.json", ErrDuplicate, ".pipelines[1].name"},
		{"input-missing.json", ErrReference, ".pipelines[1].stages[0].inputs.t.references[0]"},
		{"input-unknown-source.json", ErrReference, ".pipelines[0].stages[0].inputs.t.references[0]"},
		{"bad-checksum.json", ErrChecksum, ".sources.org.osbuild.curl.items.sha256:abc"},
		{"checksum-path.json", ErrChecksum, ".sources.org.osbuild.curl.items.../../etc/passwd"},
		{"options-array.json", ErrStructure, ".pipelines[0].stages[0].options"},
		{"type-number.json", ErrStructure, ".pipelines[0].stages[0].type"},
		{"type-missing.json", ErrStructure, ".pipelines[0].stages[0]"},
		{"epoch-string.json", ErrStructure, ".pipelines[0].source-epoch"},
		{"device-cycle.json", ErrCycle, ".pipelines[0].stages[0].devices"},
		{"mount-unknown-device.json", ErrReference, ".pipelines[0].stages[0].mounts[0].source"},
		{"mount-duplicate.json", ErrDuplicate, ".pipelines[0].stages[0].mounts[1].name"},
		{"float-overflow.json", ErrStructure, ".pipelines[0].stages[0].options.f"},
		{"v1-rpm-no-packages.json", ErrStructure, ".pipeline.stages[0].options.packages"},
		{"v1-build-no-runner.json", ErrStructure, ".pipeline.build"},
		{"v1-unknown-source.json", ErrStructure, ".sources.org.osbuild.weird"},
	}
	files, _ := filepath.Glob("testdata/bad/*.json")
	if len(files) != len(tests) {
		t.Errorf("testdata/bad has %d files, the table %d", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(data)
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Load error %v is not a *manifest.Error", err)
			}
			if !errors.Is(err, tt.kind) || me.Path != tt.path {
				t.Errorf("got %v (path %q), want kind %v at %q", err, me.Path, tt.kind, tt.path)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || me.Hint == "" {
				t.Errorf("error %q must be one line with a hint", msg)
			}
		})
	}
}

func loadString(t *testing.T, s string) *Manifest {
	t.Helper()
	m, err := Load([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const twoPipelines = `{"version": "2", "pipelines": [
 {"name": "build", "runner": "org.osbuild.debian12", "stages": [{"type": "org.osbuild.a"}, {"type": "org.osbuild.b"}]},
 {"name": "os", "build": "name:build", "stages": [{"type": "org.osbuild.c", "options": {"x": 1}}]},
 {"name": "empty"}]}`

func TestModel(t *testing.T) {
	m := loadString(t, twoPipelines)
	build, os := m.Pipeline("build"), m.Pipeline("os")
	if m.Version != 2 || len(m.Pipelines) != 3 || build == nil || os == nil {
		t.Fatalf("unexpected manifest %+v", m)
	}
	if os.Build != build || os.Runner != "org.osbuild.debian12" || build.Runner != "" {
		t.Errorf("os: build %p runner %q; build runner %q", os.Build, os.Runner, build.Runner)
	}
	if build.ID != build.Stages[1].ID || build.Stages[0].Pipeline != build || m.Pipeline("empty").ID != "" {
		t.Errorf("pipeline IDs wrong")
	}
	if string(os.Stages[0].Options) != `{"x": 1}` || string(build.Stages[0].Options) != `{}` {
		t.Errorf("options %s %s", os.Stages[0].Options, build.Stages[0].Options)
	}
	if m.Pipeline(os.ID) != os {
		t.Errorf("Pipeline(ID) did not find os")
	}
}

func TestExport(t *testing.T) {
	m := loadString(t, twoPipelines)
	if p, err := m.Export("os"); err != nil || p.Name != "os" {
		t.Errorf("Export(os) = %v, %v", p, err)
	}
	if _, err := m.Export("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"build" "os" "empty"`) {
		t.Errorf("Export(nope) error %v", err)
	}
}

func TestCheckpoints(t *testing.T) {
	m := loadString(t, twoPipelines)
	build, os := m.Pipeline("build"), m.Pipeline("os")
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"pipeline name", []string{"build"}, []string{build.ID}},
		{"stage type glob", []string{"org.osbuild.[ab]"}, []string{build.Stages[0].ID, build.Stages[1].ID}},
		{"negated class", []string{"org.osbuild.[!ab]"}, []string{os.ID}},
		{"id prefix", []string{os.ID[:10] + "*"}, []string{os.ID}},
		{"question mark", []string{"o?"}, []string{os.ID}},
		{"star matches slash", []string{"org*b"}, []string{build.Stages[1].ID}},
		{"one of two matches", []string{"nothing", "os"}, []string{os.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Checkpoints(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for _, id := range tt.want {
				if !got[id] {
					t.Errorf("%s not selected in %v", id, got)
				}
			}
		})
	}
	if _, err := m.Checkpoints([]string{"empty", "[z-a]"}); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("unmatched patterns: error %v", err)
	}
}

// FuzzLoad checks that Load never panics and that a loaded manifest
// inspects and reloads to the same IDs.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(twoPipelines))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *manifest.Error", err)
			}
			return
		}
		if _, err := m.Inspect(); err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if _, err := m.Checkpoints([]string{"*"}); err != nil && len(m.Pipelines) > 0 && m.Pipelines[0].ID != "" {
			t.Fatalf("Checkpoints(*): %v", err)
		}
	})
}
