package test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// limitRun runs one --libdir sh stage in a busybox build root, with
// every stage a checkpoint, and returns the run and its store. The VM gets
// little memory, which makes its working file system small. The stage
// timeout only bounds the test should a bound it checks be broken.
func limitRun(t *testing.T, name, script string, extra ...string) (result, string, string) {
	t.Helper()
	m := busyboxManifest(t, "amd64", map[string]any{"type": "test." + name})
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	st := args[len(args)-1]
	out := t.TempDir()
	args = append(args, "--memory", "512MiB", "--stage-timeout", "600", "--libdir", libdir(t, name, script), "--checkpoint", "*",
		"--cache-max-size", "unlimited", "--output-directory", out, "--export", "tree")
	args = append(append(args, extra...), writeJSON(t, name+".json", m))
	start := time.Now()
	r := osbuildVM(context.Background(), t, args...)
	t.Logf("%s: exit %d after %v: %s", name, r.code, time.Since(start).Round(time.Second), lastLine(r.stderr))
	return r, st, out
}

// refusedHostile checks what a hostile stage must leave: exit 1, a last
// line that says what happened, a VM that ended normally (no console
// quoted), nothing exported, nothing of the stage committed (only the two
// build-root stages), a sound store and no process left.
func refusedHostile(t *testing.T, r result, st, out string, want ...string) {
	t.Helper()
	last := lastLine(r.stderr)
	if r.code != 1 || !strings.HasPrefix(last, "osbuild-vm: ") {
		t.Fatalf("exit %d, last line %q; want 1 and one line\n%s", r.code, last, tail(r.stderr, 4000))
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("last line %q lacks %q", last, w)
		}
	}
	if strings.Contains(r.stderr, "build vm exited") {
		t.Errorf("the VM died:\n%s", tail(r.stderr, 4000))
	}
	if ents, _ := os.ReadDir(out); len(ents) > 0 {
		t.Errorf("a refused run exported %d entries", len(ents))
	}
	if objs, _ := os.ReadDir(filepath.Join(st, "objects")); len(objs) != 2 {
		t.Errorf("%d objects committed, want the build root's 2", len(objs))
	}
	storeSound(t, st, false)
	noProcessesOn(t, st)
}

// TestHostileStageFillsWorkFS: a stage that fills the VM's working file
// system gets a clear "no space" error naming it, not a hang.
func TestHostileStageFillsWorkFS(t *testing.T) {
	r, st, out := limitRun(t, "fill", "exec /bin/busybox dd if=/dev/zero of=/run/osbuild/tree/fill bs=1M\n")
	refusedHostile(t, r, st, out, "stage test.fill", "no space left on the build VM's working file system")
}

// TestHostileStageForksWithoutEnd: a fork bomb meets the stage's process
// limit and is killed, with a line saying so.
func TestHostileStageForksWithoutEnd(t *testing.T) {
	r, st, out := limitRun(t, "forkbomb", "bomb() { bomb | bomb & }\nbomb\nexec /bin/busybox sleep 3600\n")
	refusedHostile(t, r, st, out, "stage test.forkbomb", "processes at once", "killed")
}

// TestHostileStageFloodsStdout: a stage that writes gigabytes to stdout
// runs to its end with bounded memory on both sides: what reaches the
// host is bounded and says the rest was dropped, and so is what --json
// keeps of it.
func TestHostileStageFloodsStdout(t *testing.T) {
	r, st, out := limitRun(t, "flood", "/bin/busybox dd if=/dev/zero bs=1M count=2048\necho flood done >&2\n",
		"--json", "--monitor", "LogMonitor")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, tail(r.stderr, 4000))
	}
	if !strings.Contains(r.stderr, "the stage printed more than 16 MiB; the rest of its output is dropped") {
		t.Errorf("no note that output was dropped:\n%s", tail(r.stderr, 4000))
	}
	if len(r.stderr) > 200<<20 {
		t.Errorf("the host took %d MiB of the stage's output", len(r.stderr)>>20)
	}
	var doc struct {
		Log map[string][]struct {
			Output string `json:"output"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json: %v", err)
	}
	for _, s := range doc.Log["tree"] {
		if len(s.Output) > 2<<20 {
			t.Errorf("--json keeps %d MiB of the stage's output", len(s.Output)>>20)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "tree")); err != nil {
		t.Errorf("the run exported nothing: %v", err)
	}
	storeSound(t, st, false)
	noProcessesOn(t, st)
}
