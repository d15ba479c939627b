package validate

import (
	"os"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
)

// FuzzManifest checks that validation never panics and that every
// problem has a message.
func FuzzManifest(f *testing.F) {
	for _, name := range []string{"good-v2.json", "bad-v2.json", "bad-v1.json"} {
		if data, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(data)
		}
	}
	v := New(modules.NewIndex("testdata/libdir"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := v.Manifest(data)
		if err != nil {
			return
		}
		for _, p := range r.Problems {
			if p.Message == "" {
				t.Fatalf("problem without message at %s", p.ID())
			}
		}
		_ = r.JSON()
	})
}
