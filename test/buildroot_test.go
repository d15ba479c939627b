package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// busyboxManifest is a v2 manifest whose build pipeline unpacks Debian's
// busybox-static for arch (a real target binary, pinned by checksum) and
// whose "tree" pipeline runs stages in that build root.
func busyboxManifest(t *testing.T, arch string, treeStages ...any) map[string]any {
	pkg := busybox(t, arch)
	sum := "sha256:" + pkg.SHA256
	return map[string]any{
		"version": "2",
		"pipelines": []any{
			map[string]any{"name": "build", "source-epoch": 1700000000, "stages": []any{
				map[string]any{"type": "org.osbuild.deb.extract", "inputs": map[string]any{"debs": map[string]any{
					"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []any{sum}}}},
				map[string]any{"type": "org.osbuild.ln", "options": map[string]any{"paths": []any{
					map[string]any{"target": "busybox", "link_name": "tree:///bin/sh", "symbolic": true}}}},
			}},
			map[string]any{"name": "tree", "build": "name:build", "source-epoch": 1700000000, "stages": treeStages},
		},
		"sources": map[string]any{"org.osbuild.curl": map[string]any{"items": map[string]any{sum: pkg.URL}}},
	}
}

// libdir makes a --libdir with one sh stage, test.<name>, that accepts any
// options.
func libdir(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	stages := filepath.Join(dir, "stages")
	os.MkdirAll(stages, 0o755)
	meta := `{"summary": "test stage", "description": ["A stage written in sh for the end-to-end tests."], "schema_2": {"options": {"type": "object"}}}`
	if err := os.WriteFile(filepath.Join(stages, "test."+name+".meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stages, "test."+name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// probeScript runs in the build root; it records what the stage sees and
// tries to escape, writing one line per check into the tree.
const probeScript = `set -u
bb=/bin/busybox
out=/run/osbuild/tree/probe
$bb mkdir -p $out
$bb uname -m > $out/machine
$bb cat /run/osbuild/api/arguments > $out/arguments
echo "$SOURCE_DATE_EPOCH" > $out/epoch
if echo x > /etc/escape 2>/dev/null; then echo wrote > $out/buildroot; else echo refused > $out/buildroot; fi
if $bb cat "$HOST_SECRET" >/dev/null 2>&1; then echo read > $out/hostfile; else echo refused > $out/hostfile; fi
if $bb ls /run/osbuild-vm/shares >/dev/null 2>&1; then echo visible > $out/shares; else echo hidden > $out/shares; fi
if echo x > /run/osbuild/tree/../../../escape 2>/dev/null; then echo wrote > $out/treeparent; else echo refused > $out/treeparent; fi
echo "probe done on $($bb uname -m)"
`

// TestUserStageInBuildRoot runs a sh stage from --libdir on arm64 from an
// x86_64 host: it executes natively in the VM with the build pipeline's
// busybox as /bin/sh, sees osbuild's arguments, and cannot reach the
// host's files or anything outside its tree.
func TestUserStageInBuildRoot(t *testing.T) {
	// The secret lies in the libdir, which the VM does share (as
	// libdir0): a stage that saw the agent's view of the shares would
	// read it at this path.
	script := strings.Replace(probeScript, "set -u", "set -u\nHOST_SECRET="+jsoncomm.SharesDir+"/libdir0/secret", 1)
	lib := libdir(t, "probe", script)
	if err := os.WriteFile(filepath.Join(lib, "secret"), []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := busyboxManifest(t, "arm64", map[string]any{"type": "test.probe", "options": map[string]any{"greeting": "hi"}})
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, "arm64")...)
	args = append(args, "--libdir", lib, "--output-directory", out, "--export", "tree",
		writeJSON(t, "probe.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "probe done on aarch64") {
		t.Errorf("the stage's output did not stream to the monitor:\n%s", r.stderr)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, "tree", "probe", name))
		if err != nil {
			t.Fatalf("probe %s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	checks := map[string]string{
		"machine": "aarch64", "epoch": "1700000000", "buildroot": "refused",
		"hostfile": "refused", "shares": "hidden", "treeparent": "refused",
	}
	for name, want := range checks {
		if got := read(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if a := read("arguments"); !strings.Contains(a, `"greeting":"hi"`) && !strings.Contains(a, `"greeting": "hi"`) {
		t.Errorf("arguments lack the options: %s", a)
	}
	noStrayProcesses(t)
}

// TestInterruptStage cancels a run while a stage sleeps: the run ends
// with 130, nothing of the VM stays running and nothing half-committed
// stays in the store.
func TestInterruptStage(t *testing.T) {
	m := busyboxManifest(t, "amd64", map[string]any{"type": "test.sleep"})
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	store := args[len(args)-1]
	args = append(args, "--libdir", libdir(t, "sleep", "echo sleeping\nexec /bin/busybox sleep 600\n"),
		"--output-directory", t.TempDir(), "--export", "tree", "--checkpoint", "build", "--cache-max-size", "unlimited",
		writeJSON(t, "sleep.json", m))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The stage has started once the build root is committed.
		for ctx.Err() == nil {
			if objs, _ := os.ReadDir(filepath.Join(store, "objects")); len(objs) > 0 {
				time.Sleep(3 * time.Second)
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	r := osbuildVM(ctx, t, args...)
	if r.code != 130 {
		t.Fatalf("exit %d, want 130\n%s", r.code, r.stderr)
	}
	if time.Since(start) > 5*time.Minute {
		t.Fatal("interrupt took minutes")
	}
	if !strings.Contains(r.stderr, "sleeping") {
		t.Errorf("interrupted before the stage ran:\n%s", r.stderr)
	}
	noStrayProcesses(t)
	if left := storeLeftovers(t, store); len(left) != 0 {
		t.Fatalf("store leftovers: %v", left)
	}
}

// TestV1BuildPipelineAndTarAssembler runs a v1 manifest: a nested build
// pipeline, the tree built in it, and the tar assembler's artifact.
func TestV1BuildPipelineAndTarAssembler(t *testing.T) {
	m := map[string]any{
		"pipeline": map[string]any{
			"build": map[string]any{
				"pipeline": map[string]any{"stages": []any{
					map[string]any{"name": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{
						map[string]any{"path": "/usr/bin", "parents": true}}}},
				}},
				"runner": "org.osbuild.linux",
			},
			"stages": []any{
				map[string]any{"name": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{map[string]any{"path": "/etc"}}}},
				map[string]any{"name": "org.osbuild.hostname", "options": map[string]any{"hostname": "v1"}},
			},
			"assembler": map[string]any{"name": "org.osbuild.tar", "options": map[string]any{"filename": "v1.tar.gz", "compression": "gzip"}},
		},
	}
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	args = append(args, "--output-directory", out, "--export", "assembler", writeJSON(t, "v1.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	files := gzipTarEntries(t, filepath.Join(out, "assembler", "v1.tar.gz"))
	if got := files["etc/hostname"]; got != "v1\n" {
		t.Errorf("etc/hostname in the assembled tar = %q, want %q", got, "v1\n")
	}
	if _, ok := files["etc"]; !ok {
		t.Errorf("the assembled tar lacks etc: %v", keys(files))
	}
	if _, ok := files["usr"]; ok {
		t.Error("the assembled tar holds the build pipeline's /usr")
	}
}
