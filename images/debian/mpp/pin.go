package mpp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
	"github.com/osbuild-vm/osbuild-vm/images/debian/depsolve"
)

// Resolver turns one directive into packages in install order. arch is
// the directive's architecture, or the default when it names none.
type Resolver interface {
	Resolve(ctx context.Context, req *Request, arch string) (*depsolve.Result, error)
	// MirrorURL is the mirror packages come from, for mpp-format-string.
	MirrorURL(ctx context.Context) (string, error)
}

// IsRequestError says whether err is a mistake in the manifest's request
// (exit status 2) rather than a failure to reach or trust the archive.
func IsRequestError(err error) bool {
	for _, class := range []error{ErrBadDirective, ErrManifestSyntax, depsolve.ErrBadRequest, depsolve.ErrUnknownPackage, depsolve.ErrUnsatisfiable} {
		if errors.Is(err, class) {
			return true
		}
	}
	return false
}

// ErrManifestSyntax: the manifest is not JSON.
var ErrManifestSyntax = errors.New("manifest is not valid JSON")

// site is where a directive sits: input name of the stage's inputs object.
type site struct {
	inputs *pyjson.Object
	name   string
	input  *pyjson.Object
	req    *Request
}

// Pin resolves every directive of a manifest and returns the pinned
// manifest (indented, keys in their order) and the requests it resolved.
// A manifest without directives comes back unchanged, with no requests.
// The same manifest and archive give the same bytes.
func Pin(ctx context.Context, data []byte, arch string, res Resolver) ([]byte, []*Request, error) {
	doc, sites, err := find(data)
	if err != nil {
		return data, nil, err
	}
	formats, err := formatSites(doc)
	if err != nil {
		return nil, nil, err
	}
	if len(sites) == 0 && len(formats) == 0 {
		return data, nil, nil
	}
	if err := fillFormats(ctx, formats, res, arch); err != nil {
		return nil, nil, err
	}
	items := pyjson.NewObject()
	reqs := make([]*Request, 0, len(sites))
	for _, s := range sites {
		a := s.req.Architecture
		if a == "" {
			a = arch
		}
		req := *s.req
		req.Request, err = s.req.ForArch(a)
		if err != nil {
			return nil, nil, err
		}
		r, err := res.Resolve(ctx, &req, a)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.req.Path, err)
		}
		s.pin(r, items)
		reqs = append(reqs, s.req)
	}
	if len(items.Keys()) > 0 {
		mergeSources(doc.(*pyjson.Object), items)
	}
	out, err := dump(doc)
	if err != nil {
		return nil, nil, err
	}
	return out, reqs, nil
}

// pin replaces the directive by references, in its place, and adds a
// source item for each package. A package apt would mark automatically
// installed carries the metadata {"deb.auto": true} (then every reference
// is an object, as the files input's schema wants one form throughout).
func (s *site) pin(r *depsolve.Result, items *pyjson.Object) {
	refs := make([]any, 0, len(r.Packages))
	for _, p := range r.Packages {
		id := "sha256:" + p.SHA256
		if len(r.Auto) == 0 {
			refs = append(refs, id)
		} else if r.Auto[p.Package] {
			refs = append(refs, pyjson.NewObject("id", id, "options",
				pyjson.NewObject("metadata", pyjson.NewObject("deb.auto", true))))
		} else {
			refs = append(refs, pyjson.NewObject("id", id))
		}
		if !items.Has(id) {
			items.Set(id, pyjson.NewObject("url", p.URL))
		}
	}
	in := pyjson.NewObject()
	for _, k := range s.input.Keys() {
		v, _ := s.input.Get(k)
		if k == Directive {
			k, v = "references", refs
		}
		in.Set(k, v)
	}
	s.inputs.Set(s.name, in)
}

// mergeSources adds items to sources."org.osbuild.curl": items already
// there keep their URL (the checksum names the same content).
func mergeSources(doc, items *pyjson.Object) {
	sources, _ := getObject(doc, "sources")
	if sources == nil {
		sources = pyjson.NewObject()
		doc.Set("sources", sources)
	}
	curl, _ := getObject(sources, "org.osbuild.curl")
	if curl == nil {
		curl = pyjson.NewObject()
		sources.Set("org.osbuild.curl", curl)
	}
	key := "items"
	if !curl.Has("items") && curl.Has("urls") {
		key = "urls"
	}
	have, _ := getObject(curl, key)
	if have == nil {
		have = pyjson.NewObject()
		curl.Set(key, have)
	}
	for _, k := range items.Keys() {
		if !have.Has(k) {
			v, _ := items.Get(k)
			have.Set(k, v)
		}
	}
}

func getObject(o *pyjson.Object, key string) (*pyjson.Object, bool) {
	v, ok := o.Get(key)
	obj, isObj := v.(*pyjson.Object)
	return obj, ok && isObj
}

// dump writes the document as Python's json.dumps would (keys in order,
// numbers and strings as osbuild reads them), indented by two spaces.
func dump(doc any) ([]byte, error) {
	compact, err := pyjson.Dumps(doc, false)
	if err != nil {
		return nil, fmt.Errorf("write pinned manifest: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("write pinned manifest: %w", err)
	}
	return append(out.Bytes(), '\n'), nil
}

// find decodes a manifest and returns its directives, each checked, in
// document order. A directive anywhere but directly in a stage input of a
// version 2 manifest is an error, as is one in an input that is not
// org.osbuild.files from org.osbuild.source or that has references too.
func find(data []byte) (any, []*site, error) {
	doc, err := pyjson.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w: %w", ErrManifestSyntax, err)
	}
	first, found := firstDirective(doc, nil)
	if !found {
		return doc, nil, nil
	}
	top, _ := doc.(*pyjson.Object)
	if v, _ := top.Get("version"); v != "2" {
		return nil, nil, badf(first, "only version 2 manifests have stage inputs to hold it")
	}
	sites, err := stageInputSites(top)
	if err != nil {
		return nil, nil, err
	}
	allowed := map[*pyjson.Object]bool{}
	for _, s := range sites {
		allowed[s.input] = true
	}
	if p, found := firstDirective(doc, allowed); found {
		return nil, nil, badf(p, "only allowed directly in a stage input (.pipelines[N].stages[M].inputs.NAME)")
	}
	return doc, sites, nil
}

// firstDirective returns the JSON path of the first directive key in v
// held by an object not in allowed. The path is built only when one is
// found, so a deeply nested document costs time in proportion to its size.
func firstDirective(v any, allowed map[*pyjson.Object]bool) (string, bool) {
	var stack []any // path elements: string keys and int indexes
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case *pyjson.Object:
			if t.Has(Directive) && !allowed[t] {
				stack = append(stack, Directive)
				return true
			}
			for _, k := range t.Keys() {
				stack = append(stack, k)
				if child, _ := t.Get(k); k != Directive && walk(child) {
					return true
				}
				stack = stack[:len(stack)-1]
			}
		case []any:
			for i, e := range t {
				stack = append(stack, i)
				if walk(e) {
					return true
				}
				stack = stack[:len(stack)-1]
			}
		}
		return false
	}
	if !walk(v) {
		return "", false
	}
	var b strings.Builder
	for _, e := range stack {
		switch t := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", t)
		case string:
			b.WriteString(jkey("", t))
		}
	}
	return b.String(), true
}
