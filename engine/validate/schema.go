package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// kindTitle is the class name osbuild uses in schema titles.
var kindTitle = map[modules.Kind]string{
	modules.Stage: "Stage", modules.Assembler: "Assembler", modules.Source: "Source",
	modules.Input: "Input", modules.Device: "Device", modules.Mount: "Mount",
}

// errNoSchema marks a module whose metadata has no schema for the
// manifest's version.
var errNoSchema = errors.New("no schema for this manifest version")

// moduleSchema builds the schema a module's part of a manifest must
// satisfy, as osbuild's ModuleInfo.get_schema does.
func moduleSchema(m *modules.Meta, version int) (map[string]any, error) {
	s1, err := decodeSchema(m.Schema)
	if err != nil {
		return nil, err
	}
	s2, err := decodeSchema(m.Schema2)
	if err != nil {
		return nil, err
	}
	schema := map[string]any{
		"title":                "Pipeline " + kindTitle[m.Kind],
		"type":                 "object",
		"additionalProperties": false,
	}
	switch m.Kind {
	case modules.Stage, modules.Assembler:
		stageSchema(schema, m.Name, version, s1, s2)
	case modules.Device:
		opts := pick(version, s1, s2)
		if opts == nil {
			return nil, errNoSchema
		}
		schema["additionalProperties"] = true
		schema["properties"] = map[string]any{"type": enum(m.Name), "options": opts}
	case modules.Mount:
		if len(s2) == 0 {
			return nil, errNoSchema
		}
		mergeInto(schema, s2)
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			schema["properties"] = props
		}
		props["type"] = enum(m.Name)
	default:
		opts := pick(version, s1, s2)
		if opts == nil {
			return nil, errNoSchema
		}
		mergeInto(schema, opts)
	}
	hoistDefinitions(schema)
	stripFormats(schema)
	return schema, nil
}

func stageSchema(schema map[string]any, name string, version int, s1, s2 map[string]any) {
	typeID := "name"
	props := map[string]any{}
	if version == 2 && len(s2) > 0 {
		typeID = "type"
		for k, v := range s2 {
			props[k] = v
		}
	} else {
		if version == 2 {
			typeID = "type"
		}
		props["options"] = orEmpty(s1)
	}
	props[typeID] = enum(name)
	if _, ok := props["mounts"]; !ok {
		props["mounts"] = map[string]any{"type": "array"}
	}
	if _, ok := props["devices"]; !ok {
		props["devices"] = map[string]any{"type": "object", "additionalProperties": true}
	}
	schema["properties"] = props
	schema["required"] = []any{typeID}
}

// pick is osbuild's _load_opts(version, fallback="1").
func pick(version int, s1, s2 map[string]any) map[string]any {
	if version == 2 && len(s2) > 0 {
		return s2
	}
	if len(s1) > 0 {
		return s1
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func enum(name string) map[string]any { return map[string]any{"enum": []any{name}} }

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}

// hoistDefinitions moves "definitions" from properties (or from the
// options schema) to the root, where the modules' "#/definitions/…"
// references point.
func hoistDefinitions(schema map[string]any) {
	props, _ := schema["properties"].(map[string]any)
	if defs, ok := props["definitions"]; ok {
		schema["definitions"] = defs
		delete(props, "definitions")
	}
	opts, _ := props["options"].(map[string]any)
	if defs, ok := opts["definitions"]; ok {
		schema["definitions"] = defs
		delete(opts, "definitions")
	}
}

// stripFormats removes "format" keywords: osbuild's Draft4Validator runs
// without a format checker, so formats never fail there. Values of enum,
// const, default and examples are data and are left alone.
func stripFormats(v any) {
	switch t := v.(type) {
	case map[string]any:
		if _, isStr := t["format"].(string); isStr {
			delete(t, "format")
		}
		for k, e := range t {
			if k != "enum" && k != "const" && k != "default" && k != "examples" {
				stripFormats(e)
			}
		}
	case []any:
		for _, e := range t {
			stripFormats(e)
		}
	}
}

func decodeSchema(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// compile compiles a schema document under a unique in-memory URL.
func compile(url string, doc any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseRegexpEngine(compileRegexp)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// instance converts the pyjson model to the jsonschema library's.
func instance(v any) any {
	switch t := v.(type) {
	case *pyjson.Object:
		m := make(map[string]any, t.Len())
		for _, k := range t.Keys() {
			e, _ := t.Get(k)
			m[k] = instance(e)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = instance(e)
		}
		return out
	case pyjson.Number:
		return json.Number(t)
	}
	return v
}

// moduleURL names a compiled module schema.
func moduleURL(kind modules.Kind, name string, version int) string {
	return fmt.Sprintf("mem:///%s/%s/v%d.json", kind, strings.ReplaceAll(name, "/", "_"), version)
}

// regexpTimeout bounds one pattern match: patterns come from module
// schemas, but the strings they match come from the manifest.
const regexpTimeout = 100 * time.Millisecond

// pyRegexp runs schema patterns with a backtracking engine: osbuild's
// schemas are written for Python's re and use look-arounds, which Go's
// regexp lacks.
type pyRegexp regexp2.Regexp

func (re *pyRegexp) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(re).MatchString(s)
	return err == nil && ok
}

func (re *pyRegexp) String() string { return (*regexp2.Regexp)(re).String() }

func compileRegexp(expr string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(pythonEscapes(expr), regexp2.None)
	if err != nil {
		return nil, err
	}
	re.MatchTimeout = regexpTimeout
	return (*pyRegexp)(re), nil
}

// pythonEscapes rewrites the escapes Python's re accepts but regexp2
// rejects: "\_" (an escaped underscore) is a plain "_".
func pythonEscapes(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		if expr[i] == '\\' && i+1 < len(expr) {
			if expr[i+1] != '_' {
				b.WriteByte('\\')
			}
			i++
			b.WriteByte(expr[i])
			continue
		}
		b.WriteByte(expr[i])
	}
	return b.String()
}
