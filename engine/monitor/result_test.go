package monitor

import (
	"bytes"
	"encoding/json"
	"testing"
)

// resultOf builds a Result like script does.
func resultOf(fail, failSource bool) *Result {
	var r Result
	items := []SourceItem{{Checksum: sumA}, {Checksum: sumB, Cached: true}}
	if failSource {
		items = []SourceItem{{Checksum: sumA, Error: "fetch source " + sumA + ": HTTP 404 Not Found"}}
	}
	r.Source(SourceResult{Type: "org.osbuild.curl", Items: items})
	r.Pipeline("build", buildID, "")
	r.Pipeline("tree", treeID, "build")
	r.Pipeline("assembler", stageB, "build")
	if failSource {
		return &r
	}
	r.Stage("build", StageResult{Type: "org.osbuild.mkdir", ID: stageA, Success: true, Output: "ok\n", Metadata: json.RawMessage(`{"made":["/x"]}`)})
	r.Stage("tree", StageResult{Type: "org.osbuild.mkdir", ID: stageA, Success: true, Metadata: json.RawMessage(`{"more":true}`)})
	r.Metadata("tree", "org.osbuild.mkdir", json.RawMessage(`{"made":["/y"]}`))
	r.Stage("tree", StageResult{Type: "org.osbuild.copy", ID: stageB, Success: !fail, Output: "copying\n", Error: errIf(fail)})
	return &r
}

func TestResultGolden(t *testing.T) {
	cases := map[string]*Result{
		"success":        resultOf(false, false),
		"stage-failure":  resultOf(true, false),
		"source-failure": resultOf(false, true),
	}
	for name, r := range cases {
		for _, v := range []string{"1", "2"} {
			file := "result-v" + v + "-" + name + ".golden"
			t.Run(file, func(t *testing.T) {
				var b bytes.Buffer
				if err := r.WriteJSON(&b, v); err != nil {
					t.Fatal(err)
				}
				if !json.Valid(b.Bytes()) {
					t.Fatalf("invalid JSON: %s", b.Bytes())
				}
				golden(t, file, b.Bytes())
			})
		}
	}
	if err := resultOf(false, false).WriteJSON(&bytes.Buffer{}, "3"); err == nil {
		t.Fatal("WriteJSON accepted version 3")
	}
}

func TestResultSuccess(t *testing.T) {
	for _, tt := range []struct {
		r    *Result
		want bool
	}{{resultOf(false, false), true}, {resultOf(true, false), false}, {resultOf(false, true), false}} {
		if got := tt.r.Success(); got != tt.want {
			t.Errorf("Success() = %v, want %v", got, tt.want)
		}
	}
}
