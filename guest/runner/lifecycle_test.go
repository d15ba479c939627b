package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

func TestTimeout(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	cases := []struct {
		name, body, marker string
	}{
		// sh dies of SIGTERM; its child sleep gets it too, as the group.
		{"sigterm", "sleep 987651\n", "987651"},
		// A stage that ignores SIGTERM is killed after the grace period,
		// with a background child that would outlive it.
		{"sigkill", "trap '' TERM\nsleep 987652 &\nwhile :; do sleep 987653; done\n", "98765"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			begin := time.Now()
			_, err := runStage(t, c, jsoncomm.StageRunParams{
				Tree: "tree", BuildRoot: "build", Type: "org.test.sleep",
				Executable: script(t, tc.body), TimeoutSeconds: 0.3,
			}, &logs{})
			if !errors.Is(err, jsoncomm.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if d := time.Since(begin); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			noProcess(t, tc.marker)
		})
	}
}

func TestCancel(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	ctx, cancel := context.WithCancel(context.Background())
	var got []string
	_, err := r.StageRun(ctx, jsoncomm.StageRunParams{
		Tree: "tree", BuildRoot: "build", Type: "org.test.sleep", Kind: "stages",
		Executable: script(t, "echo started\nsleep 987654\n"),
	}, func(l jsoncomm.Log) {
		got = append(got, l.Text)
		cancel()
	})
	if !errors.Is(err, context.Canceled) || jsoncomm.FromError(err).Kind != "canceled" {
		t.Fatalf("err = %v, want canceled", err)
	}
	if len(got) != 1 || got[0] != "started\n" {
		t.Errorf("logs = %q", got)
	}
	noProcess(t, "987654")
	if err := c.Call(context.Background(), jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: "tree"}, nil, nil); err != nil {
		t.Fatalf("tree still held after cancel: %v", err)
	}
}

func TestInputsReadOnly(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	openTree(t, c, "other", "")
	os.WriteFile(filepath.Join(r.treeDir("other"), "from-tree"), []byte("tree input\n"), 0o644)
	share := t.TempDir()
	for _, f := range []string{"sha256:aa", "sha256:bb", "sha256:cc"} {
		os.WriteFile(filepath.Join(share, f), []byte(f+"\n"), 0o644)
	}
	exe := script(t, `I=/run/osbuild/inputs
ls $I/files > /run/osbuild/tree/files
cat $I/files/sha256:aa $I/tree/from-tree > /run/osbuild/tree/content
for p in $I/files/sha256:aa $I/files/new $I/tree/from-tree $I/tree/new $I/all/sha256:cc; do
  if { echo x > $p; } 2>/dev/null; then echo "wrote $p"; fi
done
rm -f $I/files/sha256:bb 2>/dev/null && echo "removed"
true
`)
	var l logs
	res, err := runStage(t, c, jsoncomm.StageRunParams{
		Tree: "tree", BuildRoot: "build", Type: "org.test.inputs", Executable: exe,
		Inputs: map[string]jsoncomm.StageInput{
			"files": {Type: "org.osbuild.files", Path: share, Files: []string{"sha256:aa", "sha256:bb"}},
			"tree":  {Type: "org.osbuild.tree", Tree: "other"},
			"all":   {Type: "org.osbuild.files", Path: share},
		},
	}, &l)
	if err != nil || !res.Success {
		t.Fatalf("stage: %+v %v", res, err)
	}
	for _, m := range l.lines {
		t.Errorf("stage could modify an input: %s", m.Text)
	}
	files, _ := os.ReadFile(filepath.Join(r.treeDir("tree"), "files"))
	if string(files) != "sha256:aa\nsha256:bb\n" {
		t.Errorf("files input shows %q, want only the listed files", files)
	}
	content, _ := os.ReadFile(filepath.Join(r.treeDir("tree"), "content"))
	if string(content) != "sha256:aa\ntree input\n" {
		t.Errorf("content = %q", content)
	}
	if b, _ := os.ReadFile(filepath.Join(share, "sha256:aa")); string(b) != "sha256:aa\n" {
		t.Errorf("share file changed: %q", b)
	}
}

// TestIsolation runs a stage that looks for what it must not see: a share
// that is not its input, the agent's work directory, the guest's disks, and
// places outside its tree to write to.
func TestIsolation(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	openTree(t, c, "victim", "")
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	os.WriteFile(secret, []byte("TOPSECRET\n"), 0o644)
	victim := filepath.Join(r.treeDir("victim"), "file")
	os.WriteFile(victim, []byte("untouched\n"), 0o644)
	exe := script(t, `for p in `+secret+` /run/osbuild/tree/../../..`+secret+` `+victim+` /proc/1/root`+secret+`; do
  cat $p 2>/dev/null
done
ls `+r.cfg.WorkDir+` 2>/dev/null && echo "sees workdir"
ls /dev/vda /dev/sda /dev/virtio-ports 2>/dev/null && echo "sees disks"
for p in /evil /bin/evil /etc/evil /run/osbuild/tree/../../../evil; do
  touch $p 2>/dev/null && echo "wrote $p"
done
{ echo x > /run/osbuild/api/arguments; } 2>/dev/null && echo "wrote arguments"
echo inside > /run/osbuild/tree/ok
true
`)
	var l logs
	res, err := runStage(t, c, jsoncomm.StageRunParams{Tree: "tree", BuildRoot: "build", Type: "org.test.escape", Executable: exe}, &l)
	if err != nil || !res.Success {
		t.Fatalf("stage: %+v %v", res, err)
	}
	for _, m := range l.lines {
		t.Errorf("stage reached outside: %s: %s", m.Stream, m.Text)
	}
	if b, _ := os.ReadFile(filepath.Join(r.treeDir("tree"), "ok")); string(b) != "inside\n" {
		t.Errorf("write inside the tree: %q", b)
	}
	if _, err := os.Stat(filepath.Join(r.treeDir("build"), "evil")); err == nil {
		t.Error("wrote into the build root")
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
		t.Errorf("other tree changed: %q", b)
	}
}

// TestExitReport checks that a stage's result comes once nothing of it
// runs any more: a background child that would outlive it is gone, reaped,
// when stage.run returns, though the setup process exits later.
func TestExitReport(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "tree", "")
	res, err := runStage(t, c, jsoncomm.StageRunParams{
		Tree: "tree", BuildRoot: "build", Type: "org.test.orphan",
		Executable: script(t, "sleep 987656 >/dev/null 2>&1 &\necho left\nexit 3\n"),
	}, &logs{})
	if err != nil || res.Success || res.ExitCode != 3 {
		t.Fatalf("orphan: %+v %v, want exit code 3", res, err)
	}
	if pid := processWith("987656"); pid != "" {
		t.Errorf("process %s of the stage still there when its result came", pid)
	}
}

func TestExitReportParse(t *testing.T) {
	cases := []struct {
		status string
		code   int
		ok     bool
	}{
		{"started\nexit 0", 0, true},
		{"started\nexit 137", 137, true},
		{"started", 0, false},
		{"started\nexit ", 0, false},
		{"started\nexit -1", 0, false},
		{"started\nexit 256", 0, false},
		{"started\nexit 1x", 0, false},
		{`{"kind":"invalid"}`, 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			code, ok := exitReport([]byte(tc.status))
			if ok != tc.ok || ok && code != tc.code {
				t.Errorf("exitReport(%q) = %d, %v; want %d, %v", tc.status, code, ok, tc.code, tc.ok)
			}
		})
	}
}
