package api

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sampleArgs = `{"tree": "/run/osbuild/tree",
 "paths": {"devices": "/dev", "inputs": "/run/osbuild/inputs", "mounts": "/run/osbuild/mounts", "meta": "/run/osbuild/meta"},
 "devices": {}, "mounts": {},
 "inputs": {"debs": {"path": "/run/osbuild/inputs/debs", "data": {"files": {
   "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb": {},
   "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": {"x": 1}}}}},
 "options": {"b": 1, "a": 2},
 "meta": {"id": "abc"}}`

func TestLoadFrom(t *testing.T) {
	p := filepath.Join(t.TempDir(), "arguments")
	if err := os.WriteFile(p, []byte(sampleArgs), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	t.Setenv(ArgumentsEnv, p)
	args, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if args.Tree != "/run/osbuild/tree" || args.Meta.ID != "abc" || args.Paths.Meta != "/run/osbuild/meta" {
		t.Errorf("unexpected %+v", args)
	}
	if args.SourceEpoch == nil || args.SourceEpoch.Unix() != 1700000000 {
		t.Errorf("SourceEpoch = %v", args.SourceEpoch)
	}
	files, err := args.Files("debs")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/run/osbuild/inputs/debs/sha256:" + strings.Repeat("b", 64), "/run/osbuild/inputs/debs/sha256:" + strings.Repeat("a", 64)}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("Files order (-want +got):\n%s", diff)
	}
	keys, err := ObjectKeys(args.Options)
	if err != nil || !cmp.Equal(keys, []string{"b", "a"}) {
		t.Errorf("ObjectKeys = %v, %v", keys, err)
	}
	round, err := json.Marshal(args.Inputs["debs"].Data.Files)
	if err != nil || !strings.HasPrefix(string(round), `{"sha256:bbbb`) {
		t.Errorf("files marshal = %s, %v", round, err)
	}
}

func TestParseRejects(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "bad-") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := Parse(f); !errors.Is(err, ErrInvalidArguments) {
				t.Errorf("got %v, want ErrInvalidArguments", err)
			}
		})
	}
}

func TestSourceEpochRejectsGarbage(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := SourceEpochFromEnv(); !errors.Is(err, ErrInvalidArguments) {
		t.Errorf("got %v", err)
	}
}

func TestFilesRejectsNonChecksum(t *testing.T) {
	args := &Arguments{Inputs: map[string]Input{"x": {Path: "/in", Data: InputData{Files: InputFiles{{Checksum: "../../etc/passwd"}}}}}}
	if _, err := args.Files("x"); !errors.Is(err, ErrInput) {
		t.Errorf("got %v, want ErrInput", err)
	}
	if _, err := args.File("missing"); !errors.Is(err, ErrInput) {
		t.Errorf("got %v, want ErrInput", err)
	}
}

func TestLocation(t *testing.T) {
	args := &Arguments{Tree: "/t", Paths: Paths{Mounts: "/m"},
		Inputs: map[string]Input{"in": {Path: "/i"}}, Mounts: map[string]Mount{"root": {Path: "/mr"}}}
	cases := []struct {
		url      string
		root     Root
		path     string
		contents bool
		bad      bool
	}{
		{url: "tree:///etc/x", root: "/t", path: "/etc/x"},
		{url: "tree:///etc/", root: "/t", path: "/etc", contents: true},
		{url: "tree:///", root: "/t", path: "/", contents: true},
		{url: "/etc/x", root: "/t", path: "/etc/x"},
		{url: "input://in/sha256:ab", root: "/i", path: "/sha256:ab"},
		{url: "mount://root/boot", root: "/mr", path: "/boot"},
		{url: "mount:///boot", root: "/m", path: "/boot"},
		{url: "tree:///../../x", root: "/t", path: "/x"},
		{url: "input://nope/x", bad: true},
		{url: "http://x/y", bad: true},
		{url: "input://in", bad: true},
		{url: "tree://host/x", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			loc, err := args.Location(tc.url)
			if tc.bad {
				if err == nil {
					t.Errorf("want error, got %+v", loc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Location{Root: tc.root, Path: tc.path, Contents: tc.contents}
			if loc != want {
				t.Errorf("got %+v, want %+v", loc, want)
			}
		})
	}
}

func TestWriteMetadata(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meta")
	args := &Arguments{Paths: Paths{Meta: p}}
	if err := args.WriteMetadata(map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &got); err != nil || got["n"] != 1 {
		t.Errorf("metadata %s: %v", data, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleArgs))
	f.Add([]byte(`{"tree": "/t", "inputs": {"x": {"data": {"files": []}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		args, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for name := range args.Inputs {
			paths, err := args.Files(name)
			if err != nil {
				continue
			}
			for _, p := range paths {
				if strings.Contains(p[len(args.Inputs[name].Path):], "..") {
					t.Fatalf("input file path %q escapes", p)
				}
			}
		}
	})
}
