package test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const hello = "../images/hello/hello.json"

// TestHelloExample builds the bundled example for both architectures and
// checks the artifact; the tree holds no target binaries, so both give
// the same bytes.
func TestHelloExample(t *testing.T) {
	tars := map[string][]byte{}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"run"}, vmArgs(t, arch)...)
			args = append(args, "--output-directory", out, "--export", "archive", hello)
			r := osbuildVM(context.Background(), t, args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			artifact := filepath.Join(out, "archive", "hello.tar")
			files := tarEntries(t, artifact)
			want := map[string]string{
				"etc/hostname":   "hello\n",
				"etc/machine-id": "uninitialized\n",
				"etc/motd":       "Hello from osbuild-vm: this tree was built inside a VM of its target architecture.\n",
				"etc/systemd/system/multi-user.target.wants/hello.service": "-> /usr/lib/systemd/system/hello.service",
			}
			for name, content := range want {
				if files[name] != content {
					t.Errorf("%s = %q, want %q", name, files[name], content)
				}
			}
			if !strings.Contains(files["etc/passwd"], "hello:x:1000:1000:Hello user:/home/hello:/bin/sh") {
				t.Errorf("etc/passwd = %q", files["etc/passwd"])
			}
			b, _ := os.ReadFile(artifact)
			tars[arch] = b
		})
	}
	if len(tars) == 2 && !bytes.Equal(tars["amd64"], tars["arm64"]) {
		t.Error("the amd64 and arm64 builds of the same manifest differ")
	}
	noStrayProcesses(t)
}

// TestCheckpointReuse builds with a checkpoint, then again: the second run
// takes everything from the store, boots no VM (its --vm-kernel points
// nowhere, so a boot would fail) and exports the same bytes.
func TestCheckpointReuse(t *testing.T) {
	store := t.TempDir()
	run := func(kernel string) []byte {
		out := t.TempDir()
		r := osbuildVM(context.Background(), t, "run", "--arch", "amd64", "--vm-kernel", kernel,
			"--store", store, "--cache-max-size", "unlimited", "--checkpoint", "archive",
			"--output-directory", out, "--export", "archive", hello)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "archive", "hello.tar"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := run(kernelDir(t, "amd64"))
	start := time.Now()
	second := run(filepath.Join(t.TempDir(), "no-kernel-here"))
	if !bytes.Equal(first, second) {
		t.Fatal("the cached rebuild exported different bytes")
	}
	t.Logf("cached rebuild took %v", time.Since(start))
	if left := storeLeftovers(t, store); len(left) != 0 {
		t.Fatalf("store leftovers: %v", left)
	}
}

// TestUnknownExport is osbuild's exit 1 with a message naming the export.
func TestUnknownExport(t *testing.T) {
	r := osbuildVM(context.Background(), t, "run", "--store", t.TempDir(), "--output-directory", t.TempDir(),
		"--export", "nope", hello)
	if r.code != 1 || !strings.Contains(r.stderr, "nope") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestFailingStage: a built-in stage that fails shows its own log, exits 1
// and leaves the store consistent.
func TestFailingStage(t *testing.T) {
	m := map[string]any{
		"version": "2",
		"pipelines": []any{map[string]any{"name": "broken", "stages": []any{
			map[string]any{"type": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{map[string]any{"path": "/ok"}}}},
			map[string]any{"type": "org.osbuild.copy", "options": map[string]any{"paths": []any{
				map[string]any{"from": "tree:///does/not/exist", "to": "tree:///ok/x"}}}},
		}}},
	}
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	store := args[len(args)-1]
	out := t.TempDir()
	args = append(args, "--output-directory", out, "--export", "broken", "--checkpoint", "*", "--cache-max-size", "unlimited", writeJSON(t, "broken.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "org.osbuild.copy") || !strings.Contains(r.stderr, "does/not/exist") {
		t.Fatalf("the stage's own log is missing:\n%s", r.stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("a failed run exported %v", entries)
	}
	if left := storeLeftovers(t, store); len(left) != 0 {
		t.Fatalf("store leftovers: %v", left)
	}
	objs, _ := os.ReadDir(filepath.Join(store, "objects"))
	if len(objs) != 1 {
		t.Fatalf("want exactly the mkdir checkpoint committed, got %d objects", len(objs))
	}
	noStrayProcesses(t)
}
