package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("%s differs (-want +got):\n%s", name, diff)
	}
}

// fakeClock advances 250ms on every reading.
func fakeClock() Clock {
	t := time.Unix(1700000000, 0)
	return func() time.Time {
		t = t.Add(250 * time.Millisecond)
		return t
	}
}

const (
	buildID = "04f0cae3c09fe8184094ad73fd4bc2c08745b4cd1153ccdbc5aa0ff22740bc29"
	treeID  = "52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301"
	stageA  = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d1a2b"
	stageB  = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	sumA    = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	sumB    = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// script plays a run: one source, a build pipeline with one stage, a tree
// pipeline whose second stage fails when fail is set.
func script(m Monitor, fail bool) {
	epoch := int64(1700000000)
	m.RunStarted("manifest.json", 3)
	m.SourceStarted("org.osbuild.curl")
	m.Download(Download{Checksum: sumA, URL: "http://mirror/a.deb", Done: 0, Total: 2 << 20})
	m.Download(Download{Checksum: sumA, URL: "http://mirror/a.deb", Done: 2 << 20, Total: 2 << 20})
	m.SourceFinished(SourceResult{Type: "org.osbuild.curl", Items: []SourceItem{{Checksum: sumA}, {Checksum: sumB, Cached: true}}})
	build := Pipeline{Name: "build", ID: buildID, Stages: 1, Index: 1, Count: 2}
	m.PipelineStarted(build)
	m.StageStarted(Stage{Type: "org.osbuild.mkdir", ID: stageA, Options: json.RawMessage(`{"paths":[{"path":"/x"}]}`), Index: 1, Count: 1})
	m.Output("creating /x\npartial", "stages/org.osbuild.mkdir")
	m.Output(" line\n", "stages/org.osbuild.mkdir")
	m.StageFinished(StageResult{Type: "org.osbuild.mkdir", ID: stageA, Success: true, Output: "creating /x\npartial line\n", Metadata: json.RawMessage(`{"made":["/x"]}`)})
	m.PipelineFinished(build)
	tree := Pipeline{Name: "tree", ID: treeID, Build: "name:build", SourceEpoch: &epoch, Stages: 2, Index: 2, Count: 2}
	m.PipelineStarted(tree)
	m.StageStarted(Stage{Type: "org.osbuild.mkdir", ID: stageA, Index: 1, Count: 2})
	m.StageFinished(StageResult{Type: "org.osbuild.mkdir", ID: stageA, Success: true})
	m.StageStarted(Stage{Type: "org.osbuild.copy", ID: stageB, Options: json.RawMessage(`{}`), Index: 2, Count: 2})
	m.Output("copying ünïcode\n", "stages/org.osbuild.copy")
	m.StageFinished(StageResult{Type: "org.osbuild.copy", ID: stageB, Success: !fail, Output: "copying ünïcode\n",
		Error: errIf(fail), Metadata: json.RawMessage(`{"copied":1}`)})
	if !fail {
		m.PipelineFinished(tree)
	}
	m.RunFinished("manifest.json", !fail)
}

func errIf(fail bool) json.RawMessage {
	if fail {
		return json.RawMessage(`{"type":"org.osbuild.error.stage","details":"exit status 1"}`)
	}
	return nil
}

func TestMonitorsGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		make func(*bytes.Buffer) Monitor
	}{
		{"log", func(b *bytes.Buffer) Monitor { return NewLogMonitor(b, fakeClock()) }},
		{"jsonseq", func(b *bytes.Buffer) Monitor { return NewJSONSeqMonitor(b, fakeClock()) }},
	} {
		for _, fail := range []bool{false, true} {
			name := tt.name + map[bool]string{false: "-success", true: "-failure"}[fail] + ".golden"
			t.Run(name, func(t *testing.T) {
				var b bytes.Buffer
				script(tt.make(&b), fail)
				golden(t, name, b.Bytes())
			})
		}
	}
}

// TestJSONSeqFraming checks RFC 7464 framing and the fields consumers use.
func TestJSONSeqFraming(t *testing.T) {
	var b bytes.Buffer
	script(NewJSONSeqMonitor(&b, fakeClock()), false)
	recs := strings.Split(b.String(), "\x1e")
	if recs[0] != "" {
		t.Fatalf("stream does not start with RS: %q", recs[0])
	}
	seenFull := map[string]bool{}
	for i, r := range recs[1:] {
		if !strings.HasSuffix(r, "\n") || strings.Count(r, "\n") != 1 {
			t.Fatalf("record %d not one line ending in LF: %q", i, r)
		}
		var rec struct {
			Message   string
			Timestamp float64
			Progress  struct {
				Name        string
				Total, Done int
			}
			Context map[string]any
		}
		if err := json.Unmarshal([]byte(r), &rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rec.Timestamp <= 1700000000 || rec.Progress.Name != "pipelines/sources" || rec.Progress.Total != 3 {
			t.Fatalf("record %d: %+v", i, rec)
		}
		id, _ := rec.Context["id"].(string)
		if len(rec.Context) > 1 {
			if seenFull[id] {
				t.Fatalf("record %d repeats full context %s", i, id)
			}
			seenFull[id] = true
		} else if !seenFull[id] {
			t.Fatalf("record %d refers to context %s never sent", i, id)
		}
	}
}

// TestContextID pins the context id to osbuild's: sha256 of
// json.dumps({"origin": "org.osbuild", "pipeline": {"name": None, ...}},
// sort_keys=True), computed with CPython 3.
func TestContextID(t *testing.T) {
	tests := []struct {
		c    context
		want string
	}{
		{context{origin: strp("org.osbuild")}, "504d0d9ce9a1fa53e4b51fce32dea1775dba782e1bc84ef9e4fabc9cc5b9bd7e"},
		{context{origin: strp("osbuild.monitor"), pipelineName: strp("tr\u00e9e"), pipelineID: strp("abc"),
			stageName: strp("org.osbuild.mkdir"), stageID: strp("1")}, "944ade64f5028cc2d717f257a1be5ad65ad359a4fcdc39e803ed47e30b39e850"},
	}
	for _, tt := range tests {
		t.Run(tt.want[:8], func(t *testing.T) {
			if got := tt.c.id(); got != tt.want {
				t.Fatalf("id = %s, want %s (CPython json.dumps sort_keys)", got, tt.want)
			}
		})
	}
	if got := pyString(strp("\u00e9\U0001F600\x7f")); got != `"\u00e9\ud83d\ude00\u007f"` {
		t.Fatalf("pyString = %s", got)
	}
}

func TestNew(t *testing.T) {
	for _, name := range []string{"LogMonitor", "JSONSeqMonitor", "NullMonitor"} {
		if m, err := New(name, &bytes.Buffer{}); err != nil || m == nil {
			t.Fatalf("New(%q) = %v, %v", name, m, err)
		}
	}
	_, err := New("log", &bytes.Buffer{})
	var ue *UnknownError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "JSONSeqMonitor, LogMonitor, NullMonitor") {
		t.Fatalf("New(unknown) = %v", err)
	}
}
