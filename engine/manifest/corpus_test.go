package manifest

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"
)

// readCorpus unpacks testdata/upstream/corpus.tar.xz into memory.
func readCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/upstream/corpus.tar.xz")
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
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

// TestUpstreamCorpus loads every manifest of upstream's test/data and
// compares Inspect with what upstream's describe(load()) printed: every
// pipeline, stage, input, device and mount ID and the whole text.
func TestUpstreamCorpus(t *testing.T) {
	files := readCorpus(t)
	var codes map[string]int
	if err := json.Unmarshal(files["exit-codes.json"], &codes); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, data := range files {
		rel, ok := strings.CutPrefix(name, "manifests/")
		if !ok {
			continue
		}
		n++
		t.Run(rel, func(t *testing.T) {
			m, err := Load(data)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			m.HostRunner = "org.osbuild.debian" // the expected files were made on Debian 12
			got, err := m.Inspect()
			if err != nil {
				t.Fatal(err)
			}
			want := files["expected/"+rel+".noval"]
			if string(got) != string(want) {
				t.Errorf("Inspect differs from upstream:\n%s", cmp.Diff(string(want), string(got)))
			}
			if codes[rel] == 0 && string(got) != string(files["expected/"+rel+".inspect"]) {
				t.Errorf("Inspect differs from upstream's --inspect")
			}
		})
	}
	if n != len(codes) || n < 200 {
		t.Errorf("corpus has %d manifests, exit-codes.json %d", n, len(codes))
	}
}

// TestCorner checks hand-written corner cases against upstream's output.
func TestCorner(t *testing.T) {
	paths, err := filepath.Glob("testdata/corner/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corner cases: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(p, ".json") + ".inspect")
			if err != nil {
				t.Fatal(err)
			}
			m, err := Load(data)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := m.Inspect()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Inspect (-upstream +ours):\n%s", diff)
			}
		})
	}
}

// TestBasicPipelineIDs pins the pair from upstream's test_fmt_v2.py.
func TestBasicPipelineIDs(t *testing.T) {
	data, err := os.ReadFile("testdata/corner/basic_pipeline.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"build": "04f0cae3c09fe8184094ad73fd4bc2c08745b4cd1153ccdbc5aa0ff22740bc29",
		"tree":  "52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301",
	}
	for name, id := range want {
		if p := m.Pipeline(name); p == nil || p.ID != id {
			t.Errorf("pipeline %s: got %+v, want ID %s", name, p, id)
		}
	}
	if tree := m.Pipeline("tree"); tree.Build != m.Pipeline("build") || tree.Runner != "org.osbuild.linux" {
		t.Errorf("tree: build %v runner %q", tree.Build, tree.Runner)
	}
}
