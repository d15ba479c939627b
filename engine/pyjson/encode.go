package pyjson

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Dumps returns what Python's json.dumps(v, sort_keys=sortKeys) returns
// for the value v: separators ", " and ": ", ASCII-only output, floats in
// repr form. Besides the model types it accepts int, int64 and float64 so
// that callers can hash plain Go numbers. With sortKeys false, object keys
// keep their order.
func Dumps(v any, sortKeys bool) ([]byte, error) {
	e := encoder{sortKeys: sortKeys}
	if err := e.value(v); err != nil {
		return nil, err
	}
	return []byte(e.b.String()), nil
}

type encoder struct {
	b        strings.Builder
	sortKeys bool
}

func (e *encoder) value(v any) error {
	switch t := v.(type) {
	case nil:
		e.b.WriteString("null")
	case bool:
		e.b.WriteString(strconv.FormatBool(t))
	case string:
		writeString(&e.b, t)
	case Number:
		e.number(t)
	case int:
		e.b.WriteString(strconv.Itoa(t))
	case int64:
		e.b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		e.b.WriteString(FloatRepr(t))
	case []any:
		return e.array(t)
	case []string:
		return e.array(stringsToAny(t))
	case *Object:
		return e.object(t)
	default:
		return fmt.Errorf("pyjson: cannot encode %T", v)
	}
	return nil
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (e *encoder) number(n Number) {
	if n.IsFloat() {
		e.b.WriteString(FloatRepr(n.Float64()))
		return
	}
	s := string(n)
	if strings.Trim(s, "-0") == "" {
		s = "0" // Python's int("-0") is 0
	}
	e.b.WriteString(s)
}

func (e *encoder) array(a []any) error {
	e.b.WriteByte('[')
	for i, v := range a {
		if i > 0 {
			e.b.WriteString(", ")
		}
		if err := e.value(v); err != nil {
			return err
		}
	}
	e.b.WriteByte(']')
	return nil
}

func (e *encoder) object(o *Object) error {
	keys := o.Keys()
	if e.sortKeys {
		// Go compares strings bytewise; for UTF-8 that is code point
		// order, which is how Python compares str.
		keys = slices.Clone(keys)
		slices.Sort(keys)
	}
	e.b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			e.b.WriteString(", ")
		}
		writeString(&e.b, k)
		e.b.WriteString(": ")
		v, _ := o.Get(k)
		if err := e.value(v); err != nil {
			return err
		}
	}
	e.b.WriteByte('}')
	return nil
}

// writeString writes s the way Python's ensure_ascii encoder does: the
// short escapes for \" \\ \n \r \t \b \f, \uXXXX (lower-case hex) for every
// other byte outside ' '..'~', surrogate pairs above U+FFFF.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
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
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

// FloatRepr formats f as Python's repr(float): the shortest digits that
// round-trip, fixed notation for decimal exponents -4 <= e < 16 (always
// with a fraction, "100.0"), otherwise scientific with a signed exponent of
// at least two digits ("1e+16", "1.5e-07"). Non-finite values are written
// as json.dumps writes them: NaN, Infinity, -Infinity.
func FloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	sign := ""
	if math.Signbit(f) {
		sign, f = "-", -f
	}
	if f == 0 {
		return sign + "0.0"
	}
	// 'e' with precision -1 gives the shortest round-trip digits.
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(sci, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	decpt := exp + 1 // value = 0.digits * 10^decpt
	if decpt > -4 && decpt <= 16 {
		return sign + fixed(digits, decpt)
	}
	return sign + scientific(digits, exp)
}

func fixed(digits string, decpt int) string {
	switch {
	case decpt <= 0:
		return "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	default:
		return digits[:decpt] + "." + digits[decpt:]
	}
}

func scientific(digits string, exp int) string {
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%se%s%02d", m, sign, exp)
}
