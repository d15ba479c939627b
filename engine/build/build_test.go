package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// memExec is an in-memory executor for the planner's tests: trees are
// maps of file name to content, and it knows three stage types.
type memExec struct {
	trees  map[string]map[string]string
	ran    []string // stage types in the order they ran
	opened []string // trees opened from an archive
}

func (e *memExec) OpenTree(ctx context.Context, name, from string) error {
	t := map[string]string{}
	if from != "" {
		e.opened = append(e.opened, name)
		if err := readTar(from, t); err != nil {
			return err
		}
	}
	e.trees[name] = t
	return nil
}

func (e *memExec) SaveTree(ctx context.Context, name, to string) error {
	return writeTar(to, e.trees[name])
}

func (e *memExec) CloseTree(ctx context.Context, name string) error {
	delete(e.trees, name)
	return nil
}

func (e *memExec) Close() error { return nil }

func (e *memExec) RunStage(ctx context.Context, r *StageRun, out func(string, string)) (*StageResult, error) {
	e.ran = append(e.ran, r.Type)
	var o struct{ Path, Data string }
	json.Unmarshal(r.Options, &o)
	tree := e.trees[r.Tree]
	if r.BuildRoot != "" && e.trees[r.BuildRoot] == nil {
		return nil, fmt.Errorf("build root %s not open", r.BuildRoot)
	}
	switch r.Type {
	case "test.write":
		tree[o.Path] = o.Data
		out("stdout", "wrote "+o.Path+"\n")
	case "test.merge":
		for k, v := range e.trees[r.Inputs["tree"].Tree] {
			tree[k] = v
		}
	case "test.fail":
		out("stderr", "something broke\n")
		return &StageResult{ExitCode: 3}, nil
	}
	return &StageResult{Success: true, Metadata: json.RawMessage(`{"n":1}`)}, nil
}

func writeTar(path string, t map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(t[n])), Typeflag: tar.TypeReg})
		io.WriteString(tw, t[n])
	}
	tw.Close()
	return f.Close()
}

func readTar(path string, t map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(tr)
		t[h.Name] = string(b)
	}
}

const testManifest = `{"version": "2", "pipelines": [
 {"name": "build", "stages": [{"type": "test.write", "options": {"path": "bin-sh", "data": "sh"}}]},
 {"name": "tree", "build": "name:build", "stages": [
   {"type": "test.write", "options": {"path": "a", "data": "A"}},
   {"type": "test.write", "options": {"path": "b", "data": "%s"}}]},
 {"name": "out", "build": "name:build", "stages": [
   {"type": "test.merge", "inputs": {"tree": {"type": "org.osbuild.tree", "origin": "org.osbuild.pipeline", "references": ["name:tree"]}}}]}
]}`

type harness struct {
	t     *testing.T
	store string
	out   string
	boots int
	exec  *memExec
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, store: t.TempDir(), out: t.TempDir()}
}

func (h *harness) run(b string, checkpoints []string, exports ...string) (*Result, error) {
	h.t.Helper()
	m, err := manifest.Load([]byte(fmt.Sprintf(testManifest, b)))
	if err != nil {
		h.t.Fatal(err)
	}
	limit := store.Unlimited
	st, err := store.Open(h.store, store.Options{MaxSize: &limit})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	cps := map[string]bool{}
	if len(checkpoints) > 0 {
		if cps, err = m.Checkpoints(checkpoints); err != nil {
			h.t.Fatal(err)
		}
	}
	scratch := h.t.TempDir()
	h.exec = &memExec{trees: map[string]map[string]string{}}
	return Run(context.Background(), m, Config{
		Store: FromStore(st),
		NewExecutor: func(context.Context) (Executor, error) {
			h.boots++
			return h.exec, nil
		},
		Resolve:     func(kind, typ string) (string, error) { return "", nil },
		ScratchDir:  scratch,
		Checkpoints: cps,
		Exports:     exports,
		OutputDir:   h.out,
	})
}

func (h *harness) exported(name, file string) string {
	b, err := os.ReadFile(filepath.Join(h.out, name, file))
	if err != nil {
		h.t.Fatalf("export %s/%s: %v", name, file, err)
	}
	return string(b)
}

func TestBuildAndExport(t *testing.T) {
	h := newHarness(t)
	res, err := h.run("B", nil, "out")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(h.exec.ran); got != "[test.write test.write test.write test.merge]" {
		t.Fatalf("ran %s", got)
	}
	if h.exported("out", "a") != "A" || h.exported("out", "b") != "B" {
		t.Fatal("export content wrong")
	}
	if !res.Success || len(res.Pipelines) != 3 || res.Metadata["tree"]["test.write"] == nil {
		t.Fatalf("result %+v", res)
	}
}

func TestNoExportsBuildsNothing(t *testing.T) {
	h := newHarness(t)
	if _, err := h.run("B", nil); err != nil {
		t.Fatal(err)
	}
	if h.boots != 0 {
		t.Fatal("executor started without exports, osbuild builds nothing then")
	}
}

func TestCachedRebuildBootsNothing(t *testing.T) {
	h := newHarness(t)
	if _, err := h.run("B", []string{"out"}, "out"); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(h.out, "out"))
	h.boots = 0
	if _, err := h.run("B", []string{"out"}, "out"); err != nil {
		t.Fatal(err)
	}
	if h.boots != 0 {
		t.Fatal("second run started the executor")
	}
	if h.exported("out", "b") != "B" {
		t.Fatal("cached export content wrong")
	}
}

func TestResumeFromCheckpoint(t *testing.T) {
	h := newHarness(t)
	// Checkpoint the first stage of "tree" by its type pattern on every
	// stage; the build pipeline is checkpointed too.
	if _, err := h.run("B", []string{"build", "test.write"}, "tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.run("changed", []string{"build"}, "out"); err != nil {
		t.Fatal(err)
	}
	// Only the changed stage and the merge run; "tree" resumed from its
	// first stage's checkpoint and the build root came from the store.
	if got := fmt.Sprint(h.exec.ran); got != "[test.write test.merge]" {
		t.Fatalf("ran %s", got)
	}
	if h.exported("out", "b") != "changed" || h.exported("out", "a") != "A" {
		t.Fatal("resumed build lost content")
	}
	if len(h.exec.opened) != 2 {
		t.Fatalf("opened from store: %v", h.exec.opened)
	}
}

func TestFailingStage(t *testing.T) {
	h := newHarness(t)
	m, _ := manifest.Load([]byte(`{"version": "2", "pipelines": [{"name": "x", "stages": [{"type": "test.fail"}]}]}`))
	st, _ := store.Open(h.store, store.Options{})
	defer st.Close()
	res, err := Run(context.Background(), m, Config{
		Store:       FromStore(st),
		NewExecutor: func(context.Context) (Executor, error) { return &memExec{trees: map[string]map[string]string{}}, nil },
		Resolve:     func(kind, typ string) (string, error) { return "", nil },
		Exports:     []string{"x"}, OutputDir: h.out,
	})
	var se *StageError
	if !errors.As(err, &se) || !errors.Is(err, ErrStageFailed) || se.ExitCode != 3 || se.Tail(5) != "something broke" {
		t.Fatalf("err = %v", err)
	}
	if res.Success || len(res.Pipelines[0].Stages) != 1 || res.Pipelines[0].Stages[0].Success {
		t.Fatalf("result %+v", res)
	}
	if entries, _ := os.ReadDir(h.out); len(entries) != 0 {
		t.Fatal("failed run exported something")
	}
}

func TestOutputTailIsBounded(t *testing.T) {
	var tail outputTail
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < 3*MaxStageOutput/len(line); i++ {
		tail.add(line)
	}
	tail.add("last line\n")
	got := tail.String()
	if len(got) > MaxStageOutput+64 || !strings.HasSuffix(got, "last line\n") || !strings.HasPrefix(got, "[earlier output dropped]") {
		t.Fatalf("tail of %d bytes, starts %q", len(got), got[:40])
	}
	var short outputTail
	short.add("a\n")
	if short.String() != "a\n" {
		t.Fatalf("short output changed: %q", short.String())
	}
}
