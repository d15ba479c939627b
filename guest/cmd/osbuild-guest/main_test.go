package main

import (
	"testing"

	"github.com/osbuild-vm/osbuild-vm/stages"
)

func TestBuiltinStage(t *testing.T) {
	names := stages.Names()
	if len(names) == 0 {
		t.Fatal("no built-in stages registered")
	}
	tests := []struct {
		argv0 string
		want  bool
	}{
		{"/run/osbuild/bin/" + names[0], true},
		{names[0], true},
		{"/run/osbuild/bin/org.example.not-a-stage", false},
		{"/init", false},
	}
	if asm := stages.AssemblerNames(); len(asm) > 0 {
		tests = append(tests, struct {
			argv0 string
			want  bool
		}{"/run/osbuild/bin/" + stages.AssemblerDir + "/" + asm[0], true})
	}
	for _, tt := range tests {
		t.Run(tt.argv0, func(t *testing.T) {
			run, ok := builtinStage(tt.argv0)
			if ok != tt.want || (ok && run == nil) {
				t.Errorf("builtinStage(%q) = %v, %v; want ok %v", tt.argv0, run != nil, ok, tt.want)
			}
		})
	}
}
