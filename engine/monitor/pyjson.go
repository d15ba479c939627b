package monitor

import "github.com/osbuild-vm/osbuild-vm/engine/pyjson"

// pyString renders s as Python's json.dumps does with ensure_ascii (the
// default): non-ASCII as \uXXXX, astral characters as surrogate pairs, so
// that hashes over it equal osbuild's. nil is null.
func pyString(s *string) string {
	if s == nil {
		return "null"
	}
	b, err := pyjson.Dumps(*s, true)
	if err != nil {
		return "null" // a string always encodes; keep the record well-formed regardless
	}
	return string(b)
}
