package archive

import (
	"errors"
	"testing"
)

func TestMirrorSourceResolve(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == MirrorEnv {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		root    string
		flag    string
		env     string
		want    string
		wantErr error
	}{
		{"flag wins", "testdata/apt/deb822", "http://flag.invalid/debian/", "http://env.invalid/x", "http://flag.invalid/debian", nil},
		{"env over apt", "testdata/apt/deb822", "", "https://env.invalid/debian", "https://env.invalid/debian", nil},
		{"deb822 plain suite", "testdata/apt/deb822", "", "", "http://mirror.invalid/debian", nil},
		{"one-line sources.list", "testdata/apt/onelines", "", "", "http://lines.mirror.invalid/debian", nil},
		{"only third-party", "testdata/apt/thirdparty", "", "", "", ErrNoMirror},
		{"no apt config", "testdata/apt/none", "", "", "", ErrNoMirror},
		{"bad flag", "testdata/apt/none", "ftp://x.invalid/", "", "", ErrBadMirror},
		{"relative flag", "testdata/apt/none", "mirror.invalid/debian", "", "", ErrBadMirror},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MirrorSource{Root: tt.root, Getenv: env(tt.env)}.Resolve(tt.flag)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Resolve = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMirrorSourceBrokenConfig(t *testing.T) {
	_, err := MirrorSource{Root: "testdata/apt/broken", Getenv: func(string) string { return "" }}.Resolve("")
	if err == nil || errors.Is(err, ErrNoMirror) {
		t.Fatalf("Resolve of a malformed .sources file = %v, want a parse error", err)
	}
}
