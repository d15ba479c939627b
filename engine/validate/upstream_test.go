//go:build upstream

// This test needs a checkout of upstream osbuild (see upstreamLibdirEnv),
// which CI cannot fetch: run it with
//   OSBUILD_UPSTREAM_LIBDIR=/path/to/osbuild go test -tags upstream ./engine/validate/

package validate

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
)

// upstreamLibdirEnv names a checkout of upstream osbuild (the commit in
// ../manifest/testdata/upstream/README.md) to validate its own test
// manifests against its own modules.
const upstreamLibdirEnv = "OSBUILD_UPSTREAM_LIBDIR"

func readCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("../manifest/testdata/upstream/corpus.tar.xz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xr, err := xz.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(xr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "manifests/") || strings.HasSuffix(h.Name, ".inspect") || h.Name == "exit-codes.json" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

// TestUpstreamManifests validates upstream's test manifests with
// upstream's modules and expects the same verdict as upstream's
// `osbuild --inspect` (exit 0 valid, exit 2 invalid).
func TestUpstreamManifests(t *testing.T) {
	libdir := os.Getenv(upstreamLibdirEnv)
	if libdir == "" {
		t.Skipf("set %s to an upstream osbuild checkout to run this test", upstreamLibdirEnv)
	}
	files := readCorpus(t)
	var codes map[string]int
	if err := json.Unmarshal(files["exit-codes.json"], &codes); err != nil {
		t.Fatal(err)
	}
	v := New(modules.NewIndex(libdir))
	for name, code := range codes {
		t.Run(name, func(t *testing.T) {
			r, err := v.Manifest(files["manifests/"+name])
			if err != nil {
				t.Fatal(err)
			}
			if r.Valid() != (code == 0) {
				t.Errorf("valid=%v, upstream exit code %d; problems: %v", r.Valid(), code, r.Problems)
			}
			if code == 2 {
				comparePaths(t, r, files["expected/"+name+".inspect"])
			}
		})
	}
}

// comparePaths checks that we report problems at exactly the paths
// upstream reports them (the messages are worded differently).
func comparePaths(t *testing.T, r *Result, upstream []byte) {
	t.Helper()
	var doc struct {
		Errors []struct {
			Path []any `json:"path"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(upstream, &doc); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, e := range doc.Errors {
		p := Problem{}
		for _, el := range e.Path {
			if f, ok := el.(float64); ok {
				el = int(f)
			}
			p.Path = append(p.Path, el)
		}
		want = append(want, p.ID())
	}
	for _, p := range r.Problems {
		got = append(got, p.ID())
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("problem paths %q, upstream %q", got, want)
	}
}
