package validate

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
)

func validateFile(t *testing.T, name string) *Result {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(modules.NewIndex("testdata/libdir")).Manifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func problemIDs(r *Result) []string {
	var ids []string
	for _, p := range r.Problems {
		ids = append(ids, p.String())
	}
	return ids
}

// TestValid covers built-in modules (noop, curl, tree and files inputs),
// a libdir stage with definitions, a look-ahead pattern and an unchecked
// format, devices and mounts.
func TestValid(t *testing.T) {
	if r := validateFile(t, "good-v2.json"); !r.Valid() {
		t.Errorf("problems: %q", problemIDs(r))
	}
}

func TestAllProblemsV2(t *testing.T) {
	r := validateFile(t, "bad-v2.json")
	want := map[string]string{ // path -> a word the message must contain
		".":                                              "extra",
		".sources.org.osbuild.curl.items":                "md5:zz",
		".pipelines[0].stages[0].options.path":           "does not match",
		".pipelines[0].stages[0].options.mode":           "maximum",
		".pipelines[0].stages[0].inputs.tree.references": "valid under any",
		".pipelines[0].stages[0].devices.disk.options":   "filename",
		".pipelines[0].stages[0].mounts.root.options":    "rw",
		".pipelines[0].stages[0].mounts.odd":             "no schema for manifest version 2",
		".pipelines[0].stages[1]":                        `unknown stage "org.test.unknown"`,
		".pipelines[0].stages[2].type":                   "want string",
	}
	got := map[string]string{}
	for _, p := range r.Problems {
		got[p.ID()] += p.Message + ";"
	}
	for path, word := range want {
		msg, ok := got[path]
		if !ok || !strings.Contains(msg, word) {
			t.Errorf("%s: got %q, want a problem mentioning %q", path, msg, word)
		}
	}
	if len(got) > len(want)+1 {
		t.Errorf("unexpected problems: %q", problemIDs(r))
	}
}

func TestAllProblemsV1(t *testing.T) {
	r := validateFile(t, "bad-v1.json")
	want := []string{
		".pipeline.assembler: unknown assembler \"org.test.noasm\": no --libdir and no built-in module provides it",
		".pipeline.build.pipeline.stages[0].options.n: got string, want integer",
		".pipeline.stages[0].options: missing property 'path'",
		".pipeline.stages[1]: additional properties 'bogus' not allowed",
	}
	got := problemIDs(r)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing problem %q in %q", w, got)
		}
	}
	for _, g := range got {
		if strings.HasPrefix(g, ".sources.org.osbuild.curl.urls") {
			return
		}
	}
	t.Errorf("v1 org.osbuild.files should be checked as org.osbuild.curl: %q", got)
}

func TestVersionAndSyntax(t *testing.T) {
	v := New(modules.NewIndex())
	r, err := v.Manifest([]byte(`{"version": "7"}`))
	if err != nil || r.Valid() || r.Problems[0].ID() != ".version" {
		t.Errorf("version 7: %v %v", r, err)
	}
	for _, bad := range []string{`[1]`, `{"a":`, "\xff"} {
		if _, err := v.Manifest([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: error %v, want ErrSyntax", bad, err)
		}
	}
}

func TestJSONShape(t *testing.T) {
	r := &Result{}
	if got := string(r.JSON()); got != "{}\n" {
		t.Errorf("valid JSON = %q", got)
	}
	r.add([]any{"pipelines", 0, "stages", 1, "a b"}, "caf\u00e9 is wrong")
	r.add(nil, "root")
	r.add([]any{"pipelines", 0, "stages", 1, "a b"}, "caf\u00e9 is wrong")
	r.finish()
	want := `{"type": "https://osbuild.org/validation-error", "title": "JSON Schema validation failed", "success": false, "errors": [` +
		`{"message": "root", "path": []}, ` +
		`{"message": "caf\u00e9 is wrong", "path": ["pipelines", 0, "stages", 1, "a b"]}]}` + "\n"
	if diff := cmp.Diff(want, string(r.JSON())); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b, "m.json"); err != nil {
		t.Fatal(err)
	}
	if want := "m.json: .: root\nm.json: .pipelines[0].stages[1].'a b': caf\u00e9 is wrong\n"; b.String() != want {
		t.Errorf("text %q", b.String())
	}
}

func TestPythonEscapes(t *testing.T) {
	tests := map[string]string{`^[a-z\_]+$`: `^[a-z_]+$`, `\\_`: `\\_`, `a\.b`: `a\.b`, `x\`: `x\`}
	for in, want := range tests {
		if got := pythonEscapes(in); got != want {
			t.Errorf("pythonEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}
