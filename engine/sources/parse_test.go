package sources

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	want := map[string]error{"unknown-type.json": ErrUnknownSource, "bad-checksum.json": ErrInvalidChecksum,
		"uppercase-hex.json": ErrInvalidChecksum, "unknown-algo.json": ErrInvalidChecksum}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			var srcs map[string]json.RawMessage
			data, _ := os.ReadFile(file)
			if err := json.Unmarshal(data, &srcs); err != nil {
				t.Fatal(err)
			}
			_, err := Fetch(t.Context(), func(string) string { return t.TempDir() }, srcs, Options{})
			class := want[name]
			if class == nil {
				class = ErrInvalidItem
			}
			if !errors.Is(err, class) {
				t.Fatalf("Fetch = %v, want %v", err, class)
			}
		})
	}
}

func TestParseChecksum(t *testing.T) {
	tests := map[string]bool{
		"md5:" + strings.Repeat("a", 32):       true,
		"sha1:" + strings.Repeat("0", 40):      true,
		"sha256:" + strings.Repeat("f", 64):    true,
		"sha384:" + strings.Repeat("1", 96):    true,
		"sha512:" + strings.Repeat("9", 128):   true,
		"sha256:" + strings.Repeat("f", 63):    false,
		"sha256:" + strings.Repeat("F", 64):    false,
		"sha256:" + strings.Repeat("g", 64):    false,
		"md5:" + strings.Repeat("a", 64):       false,
		"sha256" + strings.Repeat("f", 64):     false,
		"sha256:../" + strings.Repeat("f", 61): false,
		"":                                     false,
	}
	for in, ok := range tests {
		t.Run(in, func(t *testing.T) {
			c, err := ParseChecksum(in)
			if ok != (err == nil) {
				t.Fatalf("ParseChecksum(%q) = %v", in, err)
			}
			if ok && c.String() != in {
				t.Fatalf("String() = %q", c.String())
			}
			if !ok && !errors.Is(err, ErrInvalidChecksum) {
				t.Fatalf("error %v is not ErrInvalidChecksum", err)
			}
		})
	}
}

func TestRequestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://h/pool/main/g/gcc/libstdc++6_12.2.0-14_amd64.deb", "http://h/pool/main/g/gcc/libstdc%2B%2B6_12.2.0-14_amd64.deb"},
		{"https://h/a~b_c.d-e/f", "https://h/a~b_c.d-e/f"},
		{"http://h/x%2By?q=1+2", "http://h/x%252By?q=1+2"}, // osbuild quotes what it is given
		{"http://h/a:b@c", "http://h/a%3Ab%40c"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := requestURL(tt.in)
			if err != nil || u.String() != tt.want {
				t.Fatalf("requestURL(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
			}
		})
	}
	if _, err := requestURL("ftp://h/x"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ftp URL: %v", err)
	}
}

func FuzzParseSources(f *testing.F) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte(`{"org.osbuild.curl": {"items": {"sha256:` + strings.Repeat("a", 64) + `": "http://h/x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var srcs map[string]json.RawMessage
		if json.Unmarshal(data, &srcs) != nil {
			return
		}
		items, err := parseSources(srcs)
		if err != nil {
			return
		}
		for _, it := range items {
			if _, err := ParseChecksum(it.sum.String()); err != nil {
				t.Fatalf("accepted item with bad checksum %q", it.sum)
			}
		}
	})
}

func FuzzParseChecksum(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("a", 64))
	f.Add("md5:../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChecksum(s)
		if err != nil {
			return
		}
		if c.String() != s || strings.ContainsAny(s, "/\x00") || c.newHash().Size()*2 != len(c.Hex) {
			t.Fatalf("accepted %q", s)
		}
	})
}
