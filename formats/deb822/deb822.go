// Package deb822 reads Debian control-format paragraphs (RFC 822 style
// "Field: value" records separated by blank lines), the format of an
// archive's Release and Packages files and of apt's .sources files.
//
// The reader is strict: a line that is neither a field, a continuation nor a
// separator is an error, as is a field given twice in one paragraph. It never
// guesses, because these files decide which bytes we trust.
package deb822

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxLineLength bounds a single line so that a hostile file cannot make the
// reader buffer without limit.
const MaxLineLength = 1 << 20

// ErrSyntax is the class of every malformed-input error; the concrete error
// is a *SyntaxError carrying the line number.
var ErrSyntax = errors.New("deb822 syntax error")

// SyntaxError reports where and why a file is not valid deb822.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("deb822 line %d: %s", e.Line, e.Msg) }

// Is makes errors.Is(err, ErrSyntax) true for every *SyntaxError.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Field is one "Name: value" entry. For a multi-line field, Value holds the
// first line, then each continuation line on its own line with its leading
// and trailing blanks removed.
type Field struct {
	Name  string
	Value string
}

// Paragraph is one record, its fields in file order.
type Paragraph []Field

// Get returns the value of the named field (names compare case-insensitively,
// as deb822 says) and whether it was present.
func (p Paragraph) Get(name string) (string, bool) {
	for _, f := range p {
		if f.Name == name {
			return f.Value, true
		}
	}
	// Field names are ASCII (checkName), so names that differ in length
	// cannot be equal when folded: a cheap test for a Packages entry,
	// which is asked for a dozen fields it mostly lacks.
	for _, f := range p {
		if len(f.Name) == len(name) && strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Value returns the named field's value, or "" when absent.
func (p Paragraph) Value(name string) string {
	v, _ := p.Get(name)
	return v
}

// Reader yields paragraphs one at a time, so that a 50 MB Packages file is
// never held whole in memory.
type Reader struct {
	// Comments allows lines starting with '#' (apt's .sources files allow
	// them; Release and Packages files do not).
	Comments bool

	sc   *bufio.Scanner
	line int
	done bool
	cont bytes.Buffer // continuation lines of the field being read
}

// NewReader returns a Reader over r that rejects comment lines.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), MaxLineLength)
	return &Reader{sc: sc}
}

// Next returns the next paragraph, or io.EOF when there is none left.
func (r *Reader) Next() (Paragraph, error) {
	var p Paragraph
	for {
		line, ok, err := r.nextLine()
		if err != nil {
			return nil, err
		}
		if !ok || isBlank(line) {
			if len(p) > 0 {
				r.flush(p)
				return p, nil
			}
			if !ok {
				return nil, io.EOF
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(p) == 0 {
				return nil, r.errorf("continuation line before any field")
			}
			r.cont.WriteByte('\n')
			r.cont.Write(bytes.TrimSpace(line))
			continue
		}
		r.flush(p)
		if p, err = r.addField(p, line); err != nil {
			return nil, err
		}
	}
}

// flush appends the continuation lines collected for p's last field:
// joining them once is what keeps a Packages file of long Descriptions
// fast.
func (r *Reader) flush(p Paragraph) {
	if r.cont.Len() > 0 {
		p[len(p)-1].Value += r.cont.String()
		r.cont.Reset()
	}
}

// nextLine returns the next line (valid until the following call), or
// ok=false at the end of input.
func (r *Reader) nextLine() ([]byte, bool, error) {
	for {
		if r.done || !r.sc.Scan() {
			r.done = true
			if err := r.sc.Err(); err != nil {
				return nil, false, fmt.Errorf("read deb822 line %d: %w", r.line+1, err)
			}
			return nil, false, nil
		}
		r.line++
		line := bytes.TrimSuffix(r.sc.Bytes(), []byte("\r"))
		if r.Comments && len(line) > 0 && line[0] == '#' {
			continue
		}
		return line, true, nil
	}
}

// addField adds a "Name: value" line to the paragraph being built.
func (r *Reader) addField(p Paragraph, b []byte) (Paragraph, error) {
	line := string(b)
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return nil, r.errorf("line is neither a field nor a continuation")
	}
	if err := checkName(name); err != "" {
		return nil, r.errorf("field name %q: %s", name, err)
	}
	if _, dup := p.Get(name); dup {
		return nil, r.errorf("field %q given twice", name)
	}
	return append(p, Field{Name: name, Value: strings.TrimSpace(value)}), nil
}

func (r *Reader) errorf(format string, args ...any) error {
	return &SyntaxError{Line: r.line, Msg: fmt.Sprintf(format, args...)}
}

// checkName applies deb822's rule for field names: printable US-ASCII
// without blanks or colons, not starting with '#' or '-'.
func checkName(name string) string {
	if name == "" {
		return "empty"
	}
	if name[0] == '#' || name[0] == '-' {
		return "starts with '#' or '-'"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return "contains a blank or non-printable character"
		}
	}
	return ""
}

func isBlank(line []byte) bool { return len(bytes.TrimSpace(line)) == 0 }

// ReadAll reads every paragraph of r.
func ReadAll(r io.Reader) ([]Paragraph, error) {
	return collect(NewReader(r))
}

func collect(r *Reader) ([]Paragraph, error) {
	var ps []Paragraph
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return ps, nil
		}
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
}

// ReadAllComments is ReadAll for files that may hold '#' comment lines.
func ReadAllComments(r io.Reader) ([]Paragraph, error) {
	rd := NewReader(r)
	rd.Comments = true
	return collect(rd)
}
