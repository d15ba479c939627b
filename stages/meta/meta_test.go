package meta

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// metaFile is the shape osbuild's meta.py requires of a .meta.json.
type metaFile struct {
	Summary      string          `json:"summary"`
	Description  []string        `json:"description"`
	Capabilities []string        `json:"capabilities"`
	Schema       json.RawMessage `json:"schema"`
	Schema2      json.RawMessage `json:"schema_2"`
}

func loadMeta(t *testing.T, p string) metaFile {
	t.Helper()
	data, err := FS.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var m metaFile
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return m
}

func compile(t *testing.T, name string, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	url := "mem:///" + name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

// optionsSchema returns the options schema osbuild would use for a v2
// manifest: schema_2.options, else the v1 schema.
func optionsSchema(m metaFile) json.RawMessage {
	if len(m.Schema2) > 0 {
		var parts map[string]json.RawMessage
		_ = json.Unmarshal(m.Schema2, &parts)
		if o, ok := parts["options"]; ok {
			return o
		}
		return json.RawMessage("{}")
	}
	return m.Schema
}

func TestEveryMetaFileIsWellFormed(t *testing.T) {
	for _, dir := range []string{"stages", "assemblers", "devices", "mounts"} {
		entries, err := fs.ReadDir(FS, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := path.Join(dir, e.Name())
			t.Run(p, func(t *testing.T) {
				m := loadMeta(t, p)
				if m.Summary == "" || len(m.Description) == 0 {
					t.Error("summary and description are required")
				}
				if len(m.Schema) == 0 && len(m.Schema2) == 0 {
					t.Fatal("schema or schema_2 is required")
				}
				if len(m.Schema) > 0 {
					compile(t, p+"-v1", m.Schema)
				}
				if len(m.Schema2) > 0 && dir == "mounts" {
					compile(t, p+"-v2", m.Schema2) // a mount's schema_2 is the whole mount's
				} else if len(m.Schema2) > 0 {
					var parts map[string]json.RawMessage
					if err := json.Unmarshal(m.Schema2, &parts); err != nil {
						t.Fatal(err)
					}
					for k, v := range parts {
						if k != "definitions" {
							compile(t, p+"-"+k, withDefinitions(v, parts["definitions"]))
						}
					}
				}
			})
		}
	}
}

func validate(t *testing.T, s *jsonschema.Schema, doc string) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("bad test document %s: %v", doc, err)
	}
	return s.Validate(v)
}

func TestOptionsSchemas(t *testing.T) {
	for _, tc := range optionCases {
		t.Run(tc.stage+"/"+tc.options, func(t *testing.T) {
			dir := "stages"
			if tc.assembler {
				dir = "assemblers"
			}
			m := loadMeta(t, dir+"/org.osbuild."+tc.stage+".meta.json")
			err := validate(t, compile(t, tc.stage, optionsSchema(m)), tc.options)
			if tc.valid && err != nil {
				t.Errorf("want valid, got %v", err)
			}
			if !tc.valid && err == nil {
				t.Error("want invalid, schema accepted it")
			}
		})
	}
}

func TestInputsSchemas(t *testing.T) {
	cases := []struct {
		stage, inputs string
		valid         bool
	}{
		{"tar", `{"tree": {"type": "org.osbuild.tree", "origin": "org.osbuild.pipeline", "references": ["name:os"]}}`, true},
		{"tar", `{}`, false},
		{"tar", `{"tree": {}, "other": {}}`, false},
		{"gzip", `{"file": {"type": "org.osbuild.files"}}`, true},
		{"gzip", `{"files": {}}`, false},
		{"deb.extract", `{"debs": {"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []}}`, true},
		{"deb.extract", `{}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.stage+"/"+tc.inputs, func(t *testing.T) {
			m := loadMeta(t, "stages/org.osbuild."+tc.stage+".meta.json")
			var parts map[string]json.RawMessage
			if err := json.Unmarshal(m.Schema2, &parts); err != nil {
				t.Fatal(err)
			}
			err := validate(t, compile(t, tc.stage, parts["inputs"]), tc.inputs)
			if (err == nil) != tc.valid {
				t.Errorf("valid=%v, got err %v", tc.valid, err)
			}
		})
	}
}

// withDefinitions adds schema_2's "definitions" to one of its parts, where
// the validator hoists them for "#/definitions/..." references.
func withDefinitions(part, defs json.RawMessage) json.RawMessage {
	if len(defs) == 0 {
		return part
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(part, &m) != nil {
		return part
	}
	m["definitions"] = defs
	out, _ := json.Marshal(m)
	return out
}
