package manifest

import "testing"

func TestV1AssemblerIsMarked(t *testing.T) {
	m, err := Load([]byte(`{"pipeline": {"stages": [{"name": "org.osbuild.mkdir"}], "assembler": {"name": "org.osbuild.tar", "options": {"filename": "a.tar"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Pipelines {
		for _, s := range p.Stages {
			if s.Assembler != (p.Name == "assembler") {
				t.Errorf("pipeline %s stage %s: Assembler = %v", p.Name, s.Type, s.Assembler)
			}
		}
	}
}
