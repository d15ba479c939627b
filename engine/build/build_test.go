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
	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
	"golang.org/x/sys/unix"
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

func (e *memExec) SaveTree(ctx context.Context, name string, to io.Writer) error {
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

// writeTar writes tree t; a value "symlink:<target>" is a symlink with a
// user xattr, which no file system holds (Linux refuses user xattrs on
// symlinks), so that exports have something to report; "cap:<content>" a
// file with a file capability (security.capability) and a user xattr.
func writeTar(w io.Writer, t map[string]string) error {
	tw := tar.NewWriter(w)
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		if target, ok := strings.CutPrefix(t[n], "symlink:"); ok {
			tw.WriteHeader(&tar.Header{Name: n, Linkname: target, Typeflag: tar.TypeSymlink,
				PAXRecords: map[string]string{"SCHILY.xattr.user.x": "y"}})
			continue
		}
		content := t[n]
		h := &tar.Header{Name: n, Mode: 0o644, Typeflag: tar.TypeReg}
		if c, ok := strings.CutPrefix(content, "cap:"); ok {
			content, h.PAXRecords = c, map[string]string{
				"SCHILY.xattr.security.capability": string(capNetRaw), "SCHILY.xattr.user.note": "kept"}
		}
		h.Size = int64(len(content))
		tw.WriteHeader(h)
		io.WriteString(tw, content)
	}
	return tw.Close()
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
	t       *testing.T
	store   string
	out     string
	boots   int
	exec    *memExec
	notices []string
}

// noticeMonitor records the one-line notices of a run.
type noticeMonitor struct {
	nopMonitor
	h *harness
}

func (m noticeMonitor) Notice(text string) { m.h.notices = append(m.h.notices, text) }

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
	h.exec = &memExec{trees: map[string]map[string]string{}}
	return Run(context.Background(), m, Config{
		Store: FromStore(st),
		NewExecutor: func(context.Context) (Executor, error) {
			h.boots++
			return h.exec, nil
		},
		Resolve:     func(kind, typ string) (string, error) { return "", nil },
		Checkpoints: cps,
		Exports:     exports,
		OutputDir:   h.out,
		Monitor:     noticeMonitor{h: h},
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

// TestDamagedCheckpointRebuilt: a committed object changed on disk after
// its commit is never used: the next run reports it in one line, rebuilds
// it and exports the right content.
func TestDamagedCheckpointRebuilt(t *testing.T) {
	h := newHarness(t)
	if _, err := h.run("B", []string{"tree"}, "tree"); err != nil {
		t.Fatal(err)
	}
	objs, _ := filepath.Glob(filepath.Join(h.store, "objects", "*", "tree.tar"))
	if len(objs) != 1 {
		t.Fatalf("objects: %v", objs)
	}
	data, _ := os.ReadFile(objs[0])
	data = []byte(strings.Replace(string(data), "B", "X", 1)) // the content of file b
	if err := os.WriteFile(objs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(h.out, "tree"))
	h.boots = 0
	if _, err := h.run("B", []string{"tree"}, "tree"); err != nil {
		t.Fatal(err)
	}
	if h.boots != 1 || h.exported("tree", "b") != "B" {
		t.Fatalf("boots %d, b = %q: the damaged object was used", h.boots, h.exported("tree", "b"))
	}
	if len(h.notices) != 1 || !strings.Contains(h.notices[0], "changed since its commit") ||
		!strings.Contains(h.notices[0], "rebuilding") || strings.Contains(h.notices[0], "\n") {
		t.Fatalf("notices %q, want one line about the damaged object", h.notices)
	}
	h.notices = nil
	h.boots = 0
	if _, err := h.run("B", []string{"tree"}, "tree"); err != nil || h.boots != 0 || len(h.notices) != 0 {
		t.Fatalf("the rebuilt object is not used: %v, boots %d, notices %q", err, h.boots, h.notices)
	}
}

// TestExportReportsWhatItLeftOut: an export of a tree with something the
// output cannot hold succeeds and says so in one line.
func TestExportReportsWhatItLeftOut(t *testing.T) {
	h := newHarness(t)
	m, _ := manifest.Load([]byte(`{"version": "2", "pipelines": [{"name": "x", "stages": [
		{"type": "test.write", "options": {"path": "l", "data": "symlink:target"}}]}]}`))
	st, _ := store.Open(h.store, store.Options{})
	defer st.Close()
	_, err := Run(context.Background(), m, Config{
		Store:       FromStore(st),
		NewExecutor: func(context.Context) (Executor, error) { return &memExec{trees: map[string]map[string]string{}}, nil },
		Resolve:     func(kind, typ string) (string, error) { return "", nil },
		Exports:     []string{"x"}, OutputDir: h.out, Monitor: noticeMonitor{h: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(h.out, "x", "l")); err != nil || target != "target" {
		t.Fatalf("symlink: %q, %v", target, err)
	}
	if want := droppedNotice("x", "1 extended attribute", os.Geteuid() == 0); len(h.notices) != 1 || h.notices[0] != want {
		t.Fatalf("notices %q, want %q", h.notices, want)
	}
}

func TestDroppedNotice(t *testing.T) {
	for _, tc := range []struct {
		root bool
		want string
	}{
		{true, "export os: left out 2 device nodes: the output's file system cannot hold them"},
		{false, "export os: as a plain user, left out 2 device nodes; run as root to keep them"},
	} {
		if got := droppedNotice("os", "2 device nodes", tc.root); got != tc.want {
			t.Errorf("root %v: %q, want %q", tc.root, got, tc.want)
		}
	}
}

// capNetRaw is a VFS_CAP_REVISION_2 value granting cap_net_raw=ep.
var capNetRaw = []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// TestExportKeepsXattrs: an export as root keeps a file's extended
// attributes, file capabilities included (the export reader once dropped
// them all).
func TestExportKeepsXattrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting security.capability needs root")
	}
	h := newHarness(t)
	m, _ := manifest.Load([]byte(`{"version": "2", "pipelines": [{"name": "x", "stages": [
		{"type": "test.write", "options": {"path": "ping", "data": "cap:elf"}}]}]}`))
	st, _ := store.Open(h.store, store.Options{})
	defer st.Close()
	_, err := Run(context.Background(), m, Config{
		Store:       FromStore(st),
		NewExecutor: func(context.Context) (Executor, error) { return &memExec{trees: map[string]map[string]string{}}, nil },
		Resolve:     func(kind, typ string) (string, error) { return "", nil },
		Exports:     []string{"x"}, OutputDir: h.out, Monitor: noticeMonitor{h: h},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.out, "x", "ping")
	for name, want := range map[string]string{"security.capability": string(capNetRaw), "user.note": "kept"} {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(path, name, buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("%s = %q, %v; want %q", name, buf[:max(n, 0)], err, want)
		}
	}
	if h.exported("x", "ping") != "elf" || len(h.notices) != 0 {
		t.Errorf("content %q, notices %q", h.exported("x", "ping"), h.notices)
	}
}

// TestExportRefusesUnsafeTree: an archive streamed from the executor with
// an entry outside the tree fails the export; nothing is left in the
// output directory, and the executor's save ends.
func TestExportRefusesUnsafeTree(t *testing.T) {
	h := newHarness(t)
	m, _ := manifest.Load([]byte(`{"version": "2", "pipelines": [{"name": "x", "stages": [
		{"type": "test.write", "options": {"path": "../escape", "data": "boom"}}]}]}`))
	st, _ := store.Open(h.store, store.Options{})
	defer st.Close()
	_, err := Run(context.Background(), m, Config{
		Store:       FromStore(st),
		NewExecutor: func(context.Context) (Executor, error) { return &memExec{trees: map[string]map[string]string{}}, nil },
		Resolve:     func(kind, typ string) (string, error) { return "", nil },
		Exports:     []string{"x"}, OutputDir: h.out,
	})
	if !errors.Is(err, treetar.ErrUnsafePath) {
		t.Fatalf("err = %v, want ErrUnsafePath", err)
	}
	if entries, _ := os.ReadDir(h.out); len(entries) != 0 {
		t.Fatalf("output holds %v", entries)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(h.out), "escape")); err == nil {
		t.Fatal("written outside the output")
	}
}
