package manifest

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// Load parses a manifest, checks its structure and references, and
// computes every ID. It never panics; every problem is an *Error.
func Load(data []byte) (*Manifest, error) {
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, decodeError(err)
	}
	doc, ok := v.(*pyjson.Object)
	if !ok {
		return nil, errorf(ErrStructure, ".", "a manifest is a JSON object with \"version\" and \"pipelines\"",
			"a JSON %s, not an object", typeName(v))
	}
	if err := checkFinite(v, "."); err != nil {
		return nil, err
	}
	version, ok := doc.Get("version")
	if !ok {
		return loadV1(doc)
	}
	if s, _ := version.(string); s == "2" {
		return loadV2(doc)
	} else if s == "1" {
		return loadV1(doc)
	}
	return nil, errorf(ErrVersion, ".version", `use "version": "2", or omit "version" for a version 1 manifest`,
		"unsupported manifest version %s", short(version))
}

func decodeError(err error) error {
	if errors.Is(err, pyjson.ErrInvalidUTF8) {
		return errorf(ErrSyntax, ".", "save the manifest as UTF-8", "not valid UTF-8")
	}
	var se *pyjson.SyntaxError
	if errors.As(err, &se) {
		return errorf(ErrSyntax, ".", "check the JSON syntax near that byte", "%s", se.Error())
	}
	return errorf(ErrSyntax, ".", "", "%v", err)
}

// checkFinite rejects numbers that overflow a double: Python would hash
// them as Infinity, which is not JSON and cannot reach a stage.
func checkFinite(v any, path string) error {
	switch t := v.(type) {
	case pyjson.Number:
		if t.IsFloat() && math.IsInf(t.Float64(), 0) {
			return errorf(ErrStructure, path, "use a number within ±1.8e308", "number %s is out of range", t)
		}
	case []any:
		for i, e := range t {
			if err := checkFinite(e, jpath(path, i)); err != nil {
				return err
			}
		}
	case *pyjson.Object:
		for _, k := range t.Keys() {
			e, _ := t.Get(k)
			if err := checkFinite(e, jpath(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case pyjson.Number:
		return "number"
	case []any:
		return "array"
	case *pyjson.Object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// short renders a value for an error message, cut to one short line.
func short(v any) string {
	b, err := pyjson.Dumps(v, false)
	if err != nil {
		return typeName(v)
	}
	s := string(b)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func wrongType(path, want string, v any) *Error {
	return errorf(ErrStructure, path, "make it a JSON "+want, "expected %s, got %s %s", want, typeName(v), short(v))
}

// getString returns o[key] as a string; "" and false when absent.
func getString(o *pyjson.Object, key, path string) (string, bool, error) {
	v, ok := o.Get(key)
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, wrongType(jpath(path, key), "string", v)
	}
	return s, true, nil
}

// needString returns o[key], which must be a string.
func needString(o *pyjson.Object, key, path string) (string, error) {
	s, ok, err := getString(o, key, path)
	if err == nil && !ok {
		err = errorf(ErrStructure, path, fmt.Sprintf("add a %q string", key), "missing %q", key)
	}
	return s, err
}

// getObject returns o[key] as an object; an empty one when absent.
func getObject(o *pyjson.Object, key, path string) (*pyjson.Object, error) {
	v, ok := o.Get(key)
	if !ok {
		return &pyjson.Object{}, nil
	}
	obj, isObj := v.(*pyjson.Object)
	if !isObj {
		return nil, wrongType(jpath(path, key), "object", v)
	}
	return obj, nil
}

// getArray returns o[key] as an array; nil when absent.
func getArray(o *pyjson.Object, key, path string) ([]any, error) {
	v, ok := o.Get(key)
	if !ok {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, wrongType(jpath(path, key), "array", v)
	}
	return arr, nil
}

func asObject(v any, path string) (*pyjson.Object, error) {
	obj, ok := v.(*pyjson.Object)
	if !ok {
		return nil, wrongType(path, "object", v)
	}
	return obj, nil
}

var (
	// checksumRe is what the file sources accept (curl, inline, files).
	checksumRe = regexp.MustCompile(`^(md5|sha1|sha256|sha384|sha512):[0-9a-f]+$`)
	// safeIDRe keeps any other source item ID usable as a file name.
	safeIDRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@+=-]{0,255}$`)
	checksumSize = map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
)

// checkItemID checks a source item's ID before it can become a path in
// the store: a well-formed checksum for the file sources, a plain name
// without separators for the others.
func checkItemID(sourceType, id, path string) error {
	switch sourceType {
	case "org.osbuild.curl", "org.osbuild.inline", "org.osbuild.files", "org.osbuild.librepo":
		algo, hexa, _ := strings.Cut(id, ":")
		if checksumRe.MatchString(id) && len(hexa) == checksumSize[algo] {
			return nil
		}
		return errorf(ErrChecksum, path, "write ALGO:HEX with md5, sha1, sha256, sha384 or sha512 and lower-case hex of the right length",
			"malformed checksum %q", id)
	}
	if !safeIDRe.MatchString(id) || strings.Contains(id, "..") {
		return errorf(ErrChecksum, path, "use letters, digits and _.:@+=- only", "malformed item ID %q", id)
	}
	return nil
}
