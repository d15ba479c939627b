package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

func runStage(t *testing.T, c *jsoncomm.Client, p jsoncomm.StageRunParams, l *logs) (jsoncomm.StageResult, error) {
	t.Helper()
	var res jsoncomm.StageResult
	if p.Kind == "" {
		p.Kind = "stages"
	}
	err := c.Call(context.Background(), jsoncomm.MethodStageRun, p, &res, l.add)
	return res, err
}

func TestShellStage(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	exe := script(t, `cat /run/osbuild/api/arguments > /run/osbuild/tree/args.json
echo "hello from stage"
echo "to stderr" >&2
printf '{"answer": 42}' > /run/osbuild/meta
`)
	epoch := int64(1700000000)
	var l logs
	res, err := runStage(t, c, jsoncomm.StageRunParams{
		Tree: "tree", BuildRoot: "build", Type: "org.test.script", ID: "abc123",
		Executable: exe, Options: json.RawMessage(`{"x": [1, 2]}`), SourceEpoch: &epoch,
	}, &l)
	if err != nil {
		t.Fatalf("stage.run: %v", err)
	}
	if !res.Success || res.ExitCode != 0 || string(res.Metadata) != `{"answer":42}` {
		t.Fatalf("result = %+v metadata %s", res, res.Metadata)
	}
	if !l.has(jsoncomm.StreamStdout, "hello from stage") || !l.has(jsoncomm.StreamStderr, "to stderr") {
		t.Errorf("logs = %+v", l.lines)
	}
	var args map[string]any
	data, err := os.ReadFile(filepath.Join(r.treeDir("tree"), "args.json"))
	if err != nil || json.Unmarshal(data, &args) != nil {
		t.Fatalf("args.json: %v %s", err, data)
	}
	want := map[string]any{
		"tree": "/run/osbuild/tree",
		"paths": map[string]any{"devices": "/dev", "inputs": "/run/osbuild/inputs",
			"mounts": "/run/osbuild/mounts", "meta": "/run/osbuild/meta"},
		"devices": map[string]any{}, "inputs": map[string]any{}, "mounts": map[string]any{},
		"options": map[string]any{"x": []any{1.0, 2.0}},
		"meta":    map[string]any{"id": "abc123", "source-epoch": 1700000000.0},
	}
	if d := cmp.Diff(want, args); d != "" {
		t.Errorf("arguments (-want +got):\n%s", d)
	}
}

// probe runs a built-in probe stage (p.Type) and returns what it recorded.
func probe(t *testing.T, c *jsoncomm.Client, r *Runner, p jsoncomm.StageRunParams) map[string]string {
	t.Helper()
	res, err := runStage(t, c, p, &logs{})
	if err != nil || !res.Success {
		t.Fatalf("probe: %+v %v", res, err)
	}
	if string(res.Metadata) != `{"probed":true}` {
		t.Errorf("metadata = %s", res.Metadata)
	}
	data, err := os.ReadFile(filepath.Join(r.treeDir(p.Tree), "probe.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]string
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestBuiltinInMinimalRoot checks what a built-in stage sees, run in the
// setup process (org.test.probe) and executed by it (org.test.exec-probe):
// the same but for its PID.
func TestBuiltinInMinimalRoot(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	openTree(t, c, "t", "")
	epoch := int64(42)
	seen := map[string]map[string]string{}
	for _, typ := range []string{"org.test.probe", "org.test.exec-probe"} {
		for _, kind := range []string{"stages", "assemblers"} {
			t.Run(typ+"/"+kind, func(t *testing.T) {
				rep := probe(t, c, r, jsoncomm.StageRunParams{Tree: "t", Type: typ, Kind: kind, SourceEpoch: &epoch})
				seen[typ] = rep
				wantBin := map[string]string{"stages": "/run/osbuild/bin/", "assemblers": "/run/osbuild/bin/assemblers/"}[kind] + typ
				want := map[string]string{
					"argv0": wantBin,
					"env":   "LANG=C.UTF-8\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\nSOURCE_DATE_EPOCH=42",
					"root":  "dev proc run sys tmp",
					"dev":   "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero",
					"osb":   "api bin inputs meta mounts tree",
					"cwd":   "/",
					"fds":   "0=/dev/null",
				}
				if typ == "org.test.probe" {
					// In the setup process: its status pipe, close-on-exec,
					// on which it reports the stage's exit.
					want["fds"] = "0=/dev/null 3=pipe:"
				}
				if strings.HasPrefix(rep["fds"], want["fds"]) && strings.HasSuffix(rep["fds"], "]") {
					want["fds"] = rep["fds"]
				}
				for k, v := range want {
					if rep[k] != v {
						t.Errorf("%s = %q, want %q", k, rep[k], v)
					}
				}
				checkPID(t, rep["pid"], typ == "org.test.probe")
			})
		}
	}
	if a, b := seen["org.test.probe"]["caps"], seen["org.test.exec-probe"]["caps"]; a != b {
		t.Errorf("capabilities in the setup process:\n%s\nexecuted:\n%s", a, b)
	}
	checkCaps(t, seen["org.test.probe"]["caps"])
}

// checkCaps checks a stage's capability sets: CAP_SYS_ADMIN (21) kept,
// CAP_SYS_MODULE (16) and CAP_SYS_BOOT (22) gone.
func checkCaps(t *testing.T, caps string) {
	t.Helper()
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
		_, rest, ok := strings.Cut(caps, set+": ")
		if !ok {
			t.Errorf("no %s in %q", set, caps)
			continue
		}
		v, err := strconv.ParseUint(strings.Fields(rest)[0], 16, 64)
		if err != nil || v&(1<<21) == 0 || v&(1<<16|1<<22) != 0 {
			t.Errorf("%s = %x: want SYS_ADMIN, no SYS_MODULE or SYS_BOOT", set, v)
		}
	}
}

// checkPID checks the stage runs in a new PID namespace: as its PID 1 in
// the setup process, else right after the setup process's threads.
func checkPID(t *testing.T, got string, inProcess bool) {
	t.Helper()
	pid, err := strconv.Atoi(got)
	switch {
	case err != nil:
		t.Errorf("pid = %q", got)
	case inProcess && pid != 1:
		t.Errorf("pid = %d, want 1 for a stage in the setup process", pid)
	case !inProcess && (pid < 2 || pid > 64):
		t.Errorf("pid = %d, want a small pid of a new namespace", pid)
	}
}

func TestStageFailure(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	var l logs
	res, err := runStage(t, c, jsoncomm.StageRunParams{
		Tree: "tree", BuildRoot: "build", Type: "org.test.fail",
		Executable: script(t, "echo 'something broke' >&2\nexit 3\n"),
	}, &l)
	if err != nil {
		t.Fatalf("a failing stage is a result, not an error: %v", err)
	}
	if res.Success || res.ExitCode != 3 {
		t.Fatalf("result = %+v", res)
	}
	if !l.has(jsoncomm.StreamStderr, "something broke") {
		t.Errorf("output not streamed: %+v", l.lines)
	}
}

func TestSetupErrors(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	openTree(t, c, "tree", "")
	cases := []struct {
		name string
		p    jsoncomm.StageRunParams
		want error
	}{
		{"missing executable", jsoncomm.StageRunParams{Tree: "tree", Type: "x", Executable: "/nonexistent/stage"}, jsoncomm.ErrNotFound},
		{"unknown tree", jsoncomm.StageRunParams{Tree: "nope", Type: "x"}, jsoncomm.ErrNotFound},
		{"tree is its own build root", jsoncomm.StageRunParams{Tree: "tree", BuildRoot: "tree", Type: "x"}, jsoncomm.ErrInvalid},
		{"missing input file", jsoncomm.StageRunParams{Tree: "tree", Type: "org.test.noop",
			Inputs: map[string]jsoncomm.StageInput{"f": {Path: t.TempDir(), Files: []string{"sha256:00"}}}}, jsoncomm.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runStage(t, c, tc.p, &logs{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestInvalidNames(t *testing.T) {
	r := newRunner(t)
	c := client(t, r)
	ok := jsoncomm.StageRunParams{Tree: "t", Type: "org.test.noop", Kind: "stages"}
	in := func(name string, si jsoncomm.StageInput) jsoncomm.StageRunParams {
		p := ok
		p.Inputs = map[string]jsoncomm.StageInput{name: si}
		return p
	}
	cases := []struct {
		name   string
		method string
		params any
	}{
		{"tree dotdot", jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: ".."}},
		{"tree slash", jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: "a/b"}},
		{"tree empty", jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: ""}},
		{"tree space", jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: "a b"}},
		{"save relative", jsoncomm.MethodTreeSave, jsoncomm.TreeSaveParams{Tree: "t", To: "x.tar"}},
		{"close dotdot", jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: "../t"}},
		{"stage tree slash", jsoncomm.MethodStageRun, jsoncomm.StageRunParams{Tree: "x/..", Type: "a", Kind: "stages"}},
		{"type slash", jsoncomm.MethodStageRun, jsoncomm.StageRunParams{Tree: "t", Type: "../sh", Kind: "stages"}},
		{"bad kind", jsoncomm.MethodStageRun, jsoncomm.StageRunParams{Tree: "t", Type: "a", Kind: "sources"}},
		{"input slash", jsoncomm.MethodStageRun, in("a/b", jsoncomm.StageInput{Path: "/x"})},
		{"input dotdot", jsoncomm.MethodStageRun, in("..", jsoncomm.StageInput{Path: "/x"})},
		{"input file dotdot", jsoncomm.MethodStageRun, in("f", jsoncomm.StageInput{Path: "/x", Files: []string{"../etc/shadow"}})},
		{"input relative path", jsoncomm.MethodStageRun, in("f", jsoncomm.StageInput{Path: "x/y"})},
		{"input both", jsoncomm.MethodStageRun, in("f", jsoncomm.StageInput{Path: "/x", Tree: "t"})},
		{"options array", jsoncomm.MethodStageRun, jsoncomm.StageRunParams{Tree: "t", Type: "a", Kind: "stages", Options: json.RawMessage(`[1]`)}},
		{"unknown key", jsoncomm.MethodTreeClose, map[string]string{"tree": "t", "force": "yes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Call(context.Background(), tc.method, tc.params, nil, nil)
			if !errors.Is(err, jsoncomm.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// noProcess fails when a process whose command line holds marker exists.
func noProcess(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		found := processWith(marker)
		if found == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s with %q still running", found, marker)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processWith returns the PID of a process whose command line has marker.
func processWith(marker string) string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), marker) {
			return e.Name()
		}
	}
	return ""
}
