package deb822

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadAllGood(t *testing.T) {
	f, err := os.Open("testdata/good.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Paragraph{
		{{"Package", "hello"}, {"Version", "2.10-3"}, {"Description", "example\nsecond line\n.\nthird"}},
		{{"Package", "world"}, {"Depends", "libc6 (>= 2.34), hello | bye"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadAll mismatch (-want +got):\n%s", diff)
	}
	if v, ok := got[1].Get("depends"); !ok || !strings.HasPrefix(v, "libc6") {
		t.Errorf("Get is not case-insensitive: %q %v", v, ok)
	}
	if got[0].Value("Missing") != "" {
		t.Error("Value of a missing field is not empty")
	}
}

func TestReadAllBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad testdata: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ReadAll(strings.NewReader(string(data)))
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("ReadAll error = %v, want *SyntaxError", err)
			}
			if se.Line < 1 {
				t.Errorf("SyntaxError.Line = %d, want >= 1", se.Line)
			}
		})
	}
}

func TestSeparatorsAndComments(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		comments bool
		want     int
	}{
		{"empty", "", false, 0},
		{"only blanks", "\n \n\t\n", false, 0},
		{"crlf", "A: 1\r\n\r\nB: 2\r\n", false, 2},
		{"many separators", "A: 1\n\n\n\nB: 2\n", false, 2},
		{"comment allowed", "# x\nA: 1\n# y\n\nB: 2\n", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := ReadAll
			if tt.comments {
				read = ReadAllComments
			}
			ps, err := read(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != tt.want {
				t.Errorf("got %d paragraphs, want %d: %v", len(ps), tt.want, ps)
			}
			for _, p := range ps {
				for _, f := range p {
					if strings.ContainsAny(f.Value, "\r") {
						t.Errorf("value %q keeps a carriage return", f.Value)
					}
				}
			}
		})
	}
}

func TestLineTooLong(t *testing.T) {
	in := "A: " + strings.Repeat("x", MaxLineLength+1) + "\n"
	if _, err := ReadAll(strings.NewReader(in)); err == nil {
		t.Fatal("ReadAll accepted a line longer than MaxLineLength")
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{"A: 1\n b\n\nC: 2\n", " x\n", "A: 1\nA: 2\n", "#c\nA:\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ReadAllComments(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		for _, p := range ps {
			if len(p) == 0 {
				t.Fatal("empty paragraph returned")
			}
			for _, fl := range p {
				if checkName(fl.Name) != "" {
					t.Fatalf("invalid name %q accepted", fl.Name)
				}
			}
		}
		// What was read, written out again, reads back the same.
		again, err := ReadAll(strings.NewReader(write(ps)))
		if err != nil {
			t.Fatalf("re-reading %q: %v", write(ps), err)
		}
		if diff := cmp.Diff(ps, again); diff != "" {
			t.Fatalf("round trip of %q changed (-first +again):\n%s", in, diff)
		}
	})
}

// write formats paragraphs as a deb822 file.
func write(ps []Paragraph) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, fl := range p {
			b.WriteString(fl.Name + ": " + strings.ReplaceAll(fl.Value, "\n", "\n ") + "\n")
		}
	}
	return b.String()
}
