package meta

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Upstream's path patterns use lookahead, which Go's regexp (RE2) lacks:
// `^\/?(?!\.\.)((?!\/\.\.\/).)+$` (mkdir) and `^\/(?!\.\.)((?!\/\.\.\/).)+$`
// (chmod/chown keys). Ours are RE2 rewrites; these references state what
// the upstream patterns accept, worked out from how the regex engine
// backtracks, and the test compares both on every short string.

// upstreamRelOrAbs: non-empty, no newline, no "/../", not starting "..".
func upstreamRelOrAbs(s string) bool {
	return s != "" && !strings.Contains(s, "\n") && !strings.Contains(s, "/../") && !strings.HasPrefix(s, "..")
}

// upstreamAbsKey: "/" followed by a string upstreamRelOrAbs accepts.
func upstreamAbsKey(s string) bool {
	return strings.HasPrefix(s, "/") && upstreamRelOrAbs(s[1:])
}

func allStrings(alphabet string, maxLen int) []string {
	out := []string{""}
	layer := []string{""}
	for n := 0; n < maxLen; n++ {
		var next []string
		for _, p := range layer {
			for _, c := range alphabet {
				next = append(next, p+string(c))
			}
		}
		out = append(out, next...)
		layer = next
	}
	return out
}

func patternAt(t *testing.T, file string, path ...string) *regexp.Regexp {
	t.Helper()
	data, err := FS.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			v = x[int(p[0]-'0')]
		}
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s %v: not a string", file, path)
	}
	return regexp.MustCompile(s)
}

func TestPathPatternsMatchUpstreamSemantics(t *testing.T) {
	mkdir := patternAt(t, "stages/org.osbuild.mkdir.meta.json",
		"schema_2", "options", "properties", "paths", "items", "properties", "path", "anyOf", "0", "pattern")
	var chmodKey string
	data, _ := FS.ReadFile("stages/org.osbuild.chmod.meta.json")
	var m struct {
		Schema2 struct {
			Options struct {
				Properties struct {
					Items struct {
						PatternProperties map[string]any `json:"patternProperties"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"options"`
		} `json:"schema_2"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for k := range m.Schema2.Options.Properties.Items.PatternProperties {
		chmodKey = k
	}
	key := regexp.MustCompile(chmodKey)
	for _, s := range allStrings("/.a\n", 7) {
		if got, want := mkdir.MatchString(s), upstreamRelOrAbs(s); got != want {
			t.Errorf("mkdir path %q: ours %v, upstream %v", s, got, want)
		}
		if got, want := key.MatchString(s), upstreamAbsKey(s); got != want {
			t.Errorf("chmod key %q: ours %v, upstream %v", s, got, want)
		}
	}
}
