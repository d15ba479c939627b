package archive

import (
	"fmt"
	"regexp"
	"strings"
)

// parseTransform reads a sed substitution as GNU tar's --transform takes
// it: s<d>regex<d>replacement<d>[flags], any delimiter d, flags g (all
// matches), i (ignore case) and x (extended regex: Go's syntax already is).
// Other flags and scope letters (r, s, h, …) are refused.
func parseTransform(expr string) (func(string) string, error) {
	if len(expr) < 4 || expr[0] != 's' {
		return nil, fmt.Errorf("transform %q: %w: only s/// expressions", expr, ErrUnsupported)
	}
	parts := splitUnescaped(expr[2:], expr[1])
	if len(parts) != 3 {
		return nil, fmt.Errorf("transform %q: %w: want s/regex/replacement/flags", expr, ErrUnsupported)
	}
	pattern, global := parts[0], false
	for _, f := range parts[2] {
		switch f {
		case 'g':
			global = true
		case 'i':
			pattern = "(?i)" + pattern
		case 'x':
		default:
			return nil, fmt.Errorf("transform %q: %w: flag %q", expr, ErrUnsupported, f)
		}
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("transform %q: %w", expr, err)
	}
	repl := sedReplacement(parts[1])
	return func(s string) string { return substitute(re, s, repl, global) }, nil
}

func substitute(re *regexp.Regexp, s, repl string, global bool) string {
	if global {
		return re.ReplaceAllString(s, repl)
	}
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return s
	}
	out := re.ExpandString(nil, repl, s, loc)
	return s[:loc[0]] + string(out) + s[loc[1]:]
}

// splitUnescaped splits s at delimiters not preceded by a backslash,
// dropping the backslash of an escaped delimiter.
func splitUnescaped(s string, d byte) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == d:
			cur.WriteByte(d)
			i++
		case s[i] == d:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(parts, cur.String())
}

// sedReplacement turns sed's \1 and & into Go's ${1} and ${0}.
func sedReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			fmt.Fprintf(&b, "${%c}", s[i+1])
			i++
		case s[i] == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		case s[i] == '&':
			b.WriteString("${0}")
		case s[i] == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
