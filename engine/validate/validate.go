// Package validate checks a manifest against JSON Schemas the way
// `osbuild` does before it loads one: the schema of the manifest format
// itself (schemas/manifest-v1.json and -v2.json, written for this project)
// and the schema of every module the manifest uses, built from the
// module's meta.json as osbuild's meta.py does (schema for v1, schema_2's
// "options", "inputs", "devices" and "mounts" parts for v2). Every problem
// is reported at once, with its JSON path. Schemas are Draft 4, like
// osbuild's, and "format" is not asserted, like osbuild's validator.
package validate

import (
	"embed"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

//go:embed schemas/*.json
var schemaFS embed.FS

// ErrSyntax is returned for a document that is not JSON or not an object;
// such input has no paths to report (engine/manifest explains it better).
var ErrSyntax = errors.New("manifest is not a JSON object")

// Validator validates manifests against the modules of an index. It
// caches compiled schemas and is safe for concurrent use.
type Validator struct {
	ix *modules.Index

	mu    sync.Mutex
	cache map[string]compiled
}

type compiled struct {
	schema  *jsonschema.Schema
	problem string // why the module cannot be validated, if it cannot
}

// New returns a validator for the modules ix finds.
func New(ix *modules.Index) *Validator {
	return &Validator{ix: ix, cache: map[string]compiled{}}
}

// Manifest validates a manifest document. The error is for input that is
// not a JSON object and for internal failures; schema problems are in the
// Result.
func (v *Validator) Manifest(data []byte) (*Result, error) {
	decoded, err := pyjson.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("validate: %w: %w", ErrSyntax, err)
	}
	doc, ok := instance(decoded).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("validate: %w", ErrSyntax)
	}
	r := &Result{}
	switch version := doc["version"]; version {
	case "2":
		err = v.validateV2(r, doc)
	case nil, "1":
		err = v.validateV1(r, doc, nil)
	default:
		r.add([]any{"version"}, fmt.Sprintf("unsupported manifest version %v; use \"2\"", short(version)))
	}
	r.finish()
	return r, err
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if str, ok := v.(string); ok {
		s = fmt.Sprintf("%q", str)
	}
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

var manifestSchemas = sync.OnceValues(func() (map[int]*jsonschema.Schema, error) {
	out := map[int]*jsonschema.Schema{}
	for _, version := range []int{1, 2} {
		name := fmt.Sprintf("schemas/manifest-v%d.json", version)
		f, err := schemaFS.Open(name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", name, err)
		}
		if out[version], err = compile("mem:///"+name, doc); err != nil {
			return nil, fmt.Errorf("compile %s: %w", name, err)
		}
	}
	return out, nil
})

func (v *Validator) checkFormat(r *Result, path []any, version int, doc any) error {
	schemas, err := manifestSchemas()
	if err != nil {
		return err
	}
	check(r, path, schemas[version], doc)
	return nil
}

// module validates one module's part of the manifest (a stage, an input,
// a source …) against that module's schema.
func (v *Validator) module(r *Result, path []any, kind modules.Kind, name string, version int, value any) {
	c := v.compiled(kind, name, version)
	if c.problem != "" {
		r.add(path, c.problem)
		return
	}
	check(r, path, c.schema, value)
}

func (v *Validator) compiled(kind modules.Kind, name string, version int) compiled {
	url := moduleURL(kind, name, version)
	v.mu.Lock()
	defer v.mu.Unlock()
	if c, ok := v.cache[url]; ok {
		return c
	}
	c := v.compile(kind, name, version, url)
	v.cache[url] = c
	return c
}

func (v *Validator) compile(kind modules.Kind, name string, version int, url string) compiled {
	singular := string(kind[:len(kind)-1])
	meta, err := v.ix.Meta(kind, name)
	if errors.Is(err, modules.ErrUnknownModule) {
		return compiled{problem: fmt.Sprintf("unknown %s %q: no --libdir and no built-in module provides it", singular, name)}
	}
	if err != nil {
		return compiled{problem: err.Error()}
	}
	doc, err := moduleSchema(meta, version)
	if errors.Is(err, errNoSchema) {
		return compiled{problem: fmt.Sprintf("%s %q has no schema for manifest version %d", singular, name, version)}
	}
	if err != nil {
		return compiled{problem: fmt.Sprintf("%s %q: %v", singular, name, err)}
	}
	sch, err := compile(url, doc)
	if err != nil {
		return compiled{problem: fmt.Sprintf("schema of %s %q does not compile: %v", singular, name, err)}
	}
	return compiled{schema: sch}
}
