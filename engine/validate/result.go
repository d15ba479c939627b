package validate

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// Problem is one validation failure: where (Path, keys and indexes from
// the document root) and what.
type Problem struct {
	Path    []any // string keys and int indexes
	Message string
}

// ID renders Path as osbuild does: ".pipelines[0].stages[1].options",
// a key with a space quoted ('a b'), "." for the root.
func (p Problem) ID() string {
	var b strings.Builder
	for _, el := range p.Path {
		switch v := el.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if strings.Contains(v, " ") {
				v = "'" + v + "'"
			}
			b.WriteString("." + v)
		}
	}
	if b.Len() == 0 {
		return "."
	}
	return b.String()
}

func (p Problem) String() string { return p.ID() + ": " + p.Message }

// Result holds every problem found, sorted by path then message, without
// duplicates (osbuild keeps a set). The zero value is a valid result.
type Result struct {
	Problems []Problem
}

// Valid reports whether there are no problems.
func (r *Result) Valid() bool { return len(r.Problems) == 0 }

func (r *Result) add(path []any, msg string) {
	r.Problems = append(r.Problems, Problem{Path: slices.Clone(path), Message: msg})
}

// finish sorts and de-duplicates the problems.
func (r *Result) finish() {
	slices.SortStableFunc(r.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.ID(), b.ID()), cmp.Compare(a.Message, b.Message))
	})
	r.Problems = slices.CompactFunc(r.Problems, func(a, b Problem) bool {
		return a.ID() == b.ID() && a.Message == b.Message
	})
}

// Osbuild's validation-failure document, as `osbuild --json` prints it.
const (
	FailedType  = "https://osbuild.org/validation-error"
	FailedTitle = "JSON Schema validation failed"
)

// JSON returns the document osbuild prints for a failed validation with
// --json or --inspect ({} when valid), with a trailing newline:
//
//	{"type": "https://osbuild.org/validation-error", "title": "JSON Schema
//	validation failed", "success": false, "errors": [{"message": …, "path": […]}]}
func (r *Result) JSON() []byte {
	doc := &pyjson.Object{}
	if !r.Valid() {
		errs := make([]any, len(r.Problems))
		for i, p := range r.Problems {
			path := make([]any, len(p.Path))
			for j, el := range p.Path {
				if n, ok := el.(int); ok {
					el = n
				}
				path[j] = el
			}
			errs[i] = pyjson.NewObject("message", p.Message, "path", path)
		}
		doc = pyjson.NewObject("type", FailedType, "title", FailedTitle, "success", false, "errors", errs)
	}
	b, _ := pyjson.Dumps(doc, false) // only model types: cannot fail
	return append(b, '\n')
}

// WriteText writes one line per problem, "NAME: PATH: MESSAGE", so that
// each names the file, the place and what is wrong.
func (r *Result) WriteText(w io.Writer, name string) error {
	for _, p := range r.Problems {
		if _, err := fmt.Fprintf(w, "%s: %s: %s\n", name, p.ID(), p.Message); err != nil {
			return err
		}
	}
	return nil
}
