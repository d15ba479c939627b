package mpp

import (
	"context"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// FormatDirective is osbuild-mpp's mpp-format-string: an object
// {"mpp-format-string": "..."} anywhere in the manifest becomes the string,
// with Python str.format's {name} fields filled. The variables are those
// of the resolution: "mirror" (the Debian mirror packages came from, for
// the image's apt sources) and "arch" (the Debian architecture, from
// --arch). "{{" and "}}" are braces.
const FormatDirective = "mpp-format-string"

// formatSites returns the objects that hold a format directive, checked
// to hold nothing else, with their JSON paths.
func formatSites(v any) ([]formatSite, error) {
	var out []formatSite
	var walk func(v any, path string, set func(any)) error
	walk = func(v any, path string, set func(any)) error {
		switch t := v.(type) {
		case *pyjson.Object:
			if t.Has(FormatDirective) {
				s, _ := t.Get(FormatDirective)
				str, ok := s.(string)
				if !ok || len(t.Keys()) != 1 {
					return badf(path, "%s must be the only key, with a string", FormatDirective)
				}
				out = append(out, formatSite{path: path, format: str, set: set})
				return nil
			}
			for _, k := range t.Keys() {
				child, _ := t.Get(k)
				if err := walk(child, jkey(path, k), func(nv any) { t.Set(k, nv) }); err != nil {
					return err
				}
			}
		case []any:
			for i := range t {
				if err := walk(t[i], fmt.Sprintf("%s[%d]", path, i), func(nv any) { t[i] = nv }); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(v, "", nil)
}

type formatSite struct {
	path, format string
	set          func(any)
}

// formatString fills {name} fields from vars as Python's str.format does
// for plain names; anything else in braces is an error.
func formatString(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{', c == '}' && i+1 < len(s) && s[i+1] == '}':
			b.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed '{' in %q", s)
			}
			name := s[i+1 : i+end]
			v, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("unknown variable {%s} in %q; use {mirror} or {arch}", name, s)
			}
			b.WriteString(v)
			i += end
		case c == '}':
			return "", fmt.Errorf("single '}' in %q", s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// fillFormats replaces every format directive of doc.
func fillFormats(ctx context.Context, sites []formatSite, res Resolver, arch string) error {
	if len(sites) == 0 {
		return nil
	}
	mirror, err := res.MirrorURL(ctx)
	if err != nil {
		return err
	}
	vars := map[string]string{"mirror": strings.TrimRight(mirror, "/"), "arch": arch}
	for _, s := range sites {
		v, err := formatString(s.format, vars)
		if err != nil {
			return badf(s.path, "%v", err)
		}
		s.set(v)
	}
	return nil
}
