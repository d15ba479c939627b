package build

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// TestCheckSupported: only the pipelines an export needs count.
func TestCheckSupported(t *testing.T) {
	data, err := os.ReadFile("../../cli/testdata/devices-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		exports []string
		want    string // "" for supported
	}{
		{nil, ""},
		{[]string{"tree"}, ""},
		{[]string{"tree", "image"}, "pipeline image: stage org.osbuild.noop"},
		{[]string{"on-image"}, "pipeline image: stage org.osbuild.noop"},
		{[]string{"mounted"}, "pipeline mounted: stage org.osbuild.noop"},
	}
	for _, tt := range tests {
		err := CheckSupported(m, tt.exports)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v, want nil", tt.exports, err)
		case tt.want != "" && (!errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v, want ErrNotSupported with %q", tt.exports, err, tt.want)
		}
	}
}
