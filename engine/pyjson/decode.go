// Package pyjson reads JSON into an order-preserving model and writes it
// back byte for byte the way Python's json.dumps does. osbuild derives every
// content ID from sha256 over json.dumps output, so reproducing those IDs
// needs Python's separators, escaping, float formatting, integer range and
// key order, none of which encoding/json gives.
//
// The model is plain Go values:
//
//	nil        JSON null          (Python None)
//	bool       true / false
//	Number     a number's source text; Python parses it as int or float
//	string     a string (valid UTF-8)
//	[]any      an array
//	*Object    an object, keys in first-seen order, later duplicates win
//
// Decoding is strict RFC 8259 (via encoding/json's tokenizer): Python's
// NaN/Infinity literals are rejected, and a lone surrogate escape such as
// "\ud800" decodes to U+FFFD where Python would keep it.
package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxIntDigits is Python 3.11's default int_max_str_digits: json.loads
// refuses integers with more digits, so Decode does too.
const MaxIntDigits = 4300

// ErrInvalidUTF8 is returned for input that is not UTF-8; Python opens
// manifests with encoding="utf8" and fails on such bytes.
var ErrInvalidUTF8 = errors.New("input is not valid UTF-8")

// SyntaxError reports malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Decode parses one JSON document into the model described in the package
// comment. Trailing data after the document is an error.
func Decode(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, ErrInvalidUTF8
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, syntaxErr(d, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &SyntaxError{Offset: d.InputOffset(), Msg: "extra data after the JSON document"}
	}
	return v, nil
}

func syntaxErr(d *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &SyntaxError{Offset: d.InputOffset(), Msg: "unexpected end of input"}
	}
	var pe *SyntaxError
	if errors.As(err, &pe) {
		return pe
	}
	return &SyntaxError{Offset: d.InputOffset(), Msg: err.Error()}
}

func decodeValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return decodeObject(d)
		}
		if t == '[' {
			return decodeArray(d)
		}
		return nil, &SyntaxError{Offset: d.InputOffset(), Msg: fmt.Sprintf("unexpected %q", rune(t))}
	case json.Number:
		return checkNumber(d, t)
	default:
		return t, nil // nil, bool, string
	}
}

func checkNumber(d *json.Decoder, n json.Number) (any, error) {
	num := Number(n)
	if !num.IsFloat() && len(strings.TrimPrefix(string(n), "-")) > MaxIntDigits {
		return nil, &SyntaxError{Offset: d.InputOffset(), Msg: fmt.Sprintf("integer has more than %d digits", MaxIntDigits)}
	}
	return num, nil
}

func decodeArray(d *json.Decoder) (any, error) {
	arr := []any{}
	for d.More() {
		v, err := decodeValue(d)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	_, err := d.Token() // ']'
	return arr, err
}

func decodeObject(d *json.Decoder) (any, error) {
	obj := &Object{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &SyntaxError{Offset: d.InputOffset(), Msg: "object key is not a string"}
		}
		v, err := decodeValue(d)
		if err != nil {
			return nil, err
		}
		obj.Set(key, v)
	}
	_, err := d.Token() // '}'
	return obj, err
}
