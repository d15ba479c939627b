package mpp

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFormatString(t *testing.T) {
	vars := map[string]string{"mirror": "http://m.invalid/debian", "arch": "arm64"}
	tests := []struct{ in, want, err string }{
		{"{mirror}", "http://m.invalid/debian", ""},
		{"deb {mirror} {arch}", "deb http://m.invalid/debian arm64", ""},
		{"{{literal}} }}", "{literal} }", ""},
		{"plain", "plain", ""},
		{"{suite}", "", "unknown variable {suite}"},
		{"{mirror", "", "unclosed"},
		{"a}b", "", "single '}'"},
		{"{mirror!r}", "", "unknown variable"},
	}
	for _, tt := range tests {
		got, err := formatString(tt.in, vars)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("formatString(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("formatString(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestPinFillsFormatStrings: a manifest with only format strings is
// processed too, each directive object becomes its string, and a bad one
// is a request error with its path.
func TestPinFillsFormatStrings(t *testing.T) {
	in := `{"version": "2", "pipelines": [{"name": "os", "stages": [{"type": "org.osbuild.apt.sources",
		"options": {"sources": [{"filename": "debian", "uris": [{"mpp-format-string": "{mirror}"}], "suites": ["trixie"]}]}}]}]}`
	out, _, err := Pin(context.Background(), []byte(in), "arm64", stubResolver{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"http://mirror.invalid/debian"`) || strings.Contains(string(out), FormatDirective) ||
		strings.Contains(string(out), "org.osbuild.curl") {
		t.Errorf("format string not filled:\n%s", out)
	}
	for _, bad := range []string{
		`{"version": "2", "x": {"mpp-format-string": "{nope}"}}`,
		`{"version": "2", "x": {"mpp-format-string": "{mirror}", "other": 1}}`,
		`{"version": "2", "x": {"mpp-format-string": 3}}`,
	} {
		_, _, err := Pin(context.Background(), []byte(bad), "arm64", stubResolver{})
		if !errors.Is(err, ErrBadDirective) || !strings.Contains(err.Error(), ".x") {
			t.Errorf("%s: err = %v, want a bad directive at .x", bad, err)
		}
	}
}
