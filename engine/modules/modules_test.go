package modules

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/stages/meta"
)

func TestMetaLookup(t *testing.T) {
	ix := NewIndex("testdata/nonexistent", "testdata/libdir")
	tests := []struct {
		kind    Kind
		name    string
		builtin bool
		summary string
	}{
		{Stage, "org.example.hello", false, "Test stage"},
		{Stage, "org.osbuild.noop", false, "Overrides the built-in noop"},
		{Assembler, "org.osbuild.noop", true, ""},
		{Source, "org.osbuild.curl", true, ""},
		{Source, "org.osbuild.inline", true, ""},
		{Source, "org.osbuild.files", true, ""},
		{Input, "org.osbuild.files", true, ""},
		{Input, "org.osbuild.tree", true, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.name, func(t *testing.T) {
			m, err := ix.Meta(tt.kind, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if m.Builtin != tt.builtin || m.Kind != tt.kind || m.Name != tt.name {
				t.Errorf("got %+v", m)
			}
			if tt.summary != "" && m.Summary != tt.summary {
				t.Errorf("summary %q, want %q", m.Summary, tt.summary)
			}
			if tt.builtin != (m.Path == "") {
				t.Errorf("path %q for builtin=%v", m.Path, tt.builtin)
			}
		})
	}
	m, _ := ix.Meta(Stage, "org.example.hello")
	if len(m.Capabilities) != 1 || !strings.Contains(string(m.Schema2), "greeting") || m.Schema != nil {
		t.Errorf("hello meta fields: %+v", m)
	}
}

func TestMetaErrors(t *testing.T) {
	ix := NewIndex("testdata/badmeta")
	tests := []struct {
		kind Kind
		name string
		want error
	}{
		{Stage, "unknown-key", ErrInvalidMeta},
		{Stage, "no-summary", ErrInvalidMeta},
		{Stage, "no-schema", ErrInvalidMeta},
		{Stage, "schema-array", ErrInvalidMeta},
		{Stage, "description-string", ErrInvalidMeta},
		{Stage, "truncated", ErrInvalidMeta},
		{Stage, "org.example.absent", ErrUnknownModule},
		{Device, "org.osbuild.luks2", ErrUnknownModule},
		{Stage, "../stages/x", ErrBadName},
		{Stage, "..", ErrBadName},
		{Kind("runners"), "org.osbuild.linux", ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ix.Meta(tt.kind, tt.name)
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestExecutable(t *testing.T) {
	ix := NewIndex("testdata/libdir")
	p, builtin, err := ix.Executable(Stage, "org.example.hello")
	if err != nil || builtin || p != filepath.Join("testdata/libdir", "stages", "org.example.hello") {
		t.Errorf("hello: %q %v %v", p, builtin, err)
	}
	if p, builtin, err := ix.Executable(Stage, "org.osbuild.noop"); err != nil || !builtin || p != "" {
		t.Errorf("noop: %q %v %v", p, builtin, err)
	}
	if _, _, err := ix.Executable(Source, "org.example.meta-only"); !errors.Is(err, ErrNoExecutable) {
		t.Errorf("meta-only: %v", err)
	}
	if _, _, err := ix.Executable(Stage, "a/b"); !errors.Is(err, ErrBadName) {
		t.Errorf("a/b: %v", err)
	}
}

// TestBuiltinsParse checks every embedded meta.json, ours and the
// built-in stages'.
func TestBuiltinsParse(t *testing.T) {
	ix := NewIndex()
	check := func(fsys fs.FS, root string, kinds ...Kind) {
		for _, k := range kinds {
			paths, _ := fs.Glob(fsys, root+string(k)+"/*.meta.json")
			for _, p := range paths {
				name := strings.TrimSuffix(filepath.Base(p), ".meta.json")
				if m, err := ix.Meta(k, name); err != nil || !m.Builtin {
					t.Errorf("%s: %v", p, err)
				}
			}
		}
	}
	check(builtinFS, "builtin/", Source, Input)
	check(meta.FS, "", Stage, Assembler)
}
