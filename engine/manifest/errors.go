package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// Classes of manifest errors; an *Error unwraps to one of them so callers
// can branch with errors.Is.
var (
	ErrSyntax       = errors.New("malformed JSON")
	ErrVersion      = errors.New("unsupported manifest version")
	ErrStructure    = errors.New("malformed manifest")
	ErrReference    = errors.New("unknown reference")
	ErrCycle        = errors.New("reference cycle")
	ErrDuplicate    = errors.New("duplicate name")
	ErrChecksum     = errors.New("malformed checksum")
	ErrNotFound     = errors.New("no such pipeline")
	ErrNoCheckpoint = errors.New("no checkpoint matched")
)

// Error is a problem with a manifest: where (a JSON path such as
// ".pipelines[1].stages[0].type", "." for the whole document), what, and
// how to fix it. It prints as one line.
type Error struct {
	Path string
	Msg  string
	Hint string
	Kind error // one of the Err* classes above
}

func (e *Error) Error() string {
	s := "manifest " + e.Path + ": " + e.Msg
	if e.Path == "." || e.Path == "" {
		s = "manifest: " + e.Msg
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, path, hint, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint, Kind: kind}
}

// jpath builds JSON paths in osbuild's notation: ".a.b[3]", and a key
// with a space quoted as ".'a b'".
func jpath(base string, elems ...any) string {
	var b strings.Builder
	if base != "." {
		b.WriteString(base)
	}
	for _, el := range elems {
		switch v := el.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if strings.ContainsAny(v, " ") {
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
