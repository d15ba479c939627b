package monitor

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// pyString renders s as Python's json.dumps does with ensure_ascii (the
// default): non-ASCII as \uXXXX, astral characters as surrogate pairs, so
// that hashes over it equal osbuild's. nil is null.
func pyString(s *string) string {
	if s == nil {
		return "null"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range *s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r < 0x10000):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
