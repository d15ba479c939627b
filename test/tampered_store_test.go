package test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTamperedStoreObjectRebuilt: a committed object whose tree changed on
// disk after its commit (bit rot, or someone with write access to a
// shared cache) is never used: the next run says so in one line, rebuilds
// it in the VM and exports the same bytes as the first run; the run after
// uses the rebuilt object without a word.
func TestTamperedStoreObjectRebuilt(t *testing.T) {
	store := t.TempDir()
	run := func(kernel string) ([]byte, string) {
		t.Helper()
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
		return b, r.stderr
	}
	first, _ := run(kernelDir(t, "amd64"))
	trees, _ := filepath.Glob(filepath.Join(store, "objects", "*", "tree.tar"))
	if len(trees) != 1 {
		t.Fatalf("objects: %v", trees)
	}
	damageFile(t, trees[0])

	second, stderr := run(kernelDir(t, "amd64"))
	if !bytes.Equal(first, second) {
		t.Fatal("the run after the damage exported different bytes")
	}
	var notes []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "changed since its commit") {
			notes = append(notes, strings.TrimSpace(line))
		}
	}
	id := filepath.Base(filepath.Dir(trees[0]))
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "store: object "+id+": tree.tar has sha256 ") ||
		!strings.HasSuffix(notes[0], "; rebuilding it") {
		t.Fatalf("want one line about the damaged object, got %q\n%s", notes, stderr)
	}
	t.Logf("reported: %s", notes[0])
	if !strings.Contains(stderr, "stage 1/") {
		t.Fatalf("nothing was rebuilt:\n%s", stderr)
	}

	third, stderr := run(filepath.Join(t.TempDir(), "no-kernel-here"))
	if !bytes.Equal(first, third) || strings.Contains(stderr, "changed since its commit") {
		t.Fatalf("the rebuilt object was not used as it is:\n%s", stderr)
	}
	if left := storeLeftovers(t, store); len(left) != 0 {
		t.Fatalf("store leftovers: %v", left)
	}
}

// damageFile changes one byte in the middle of path.
func damageFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{b[0] ^ 0xff}, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// TestFloatingObjectOpenedInVM: a checkpoint kept out of the cache (the
// default limit of 0) floats in the run's own area, which the VM reads
// through its own share: a later pipeline with the same first stage
// resumes from it there.
func TestFloatingObjectOpenedInVM(t *testing.T) {
	mkdir := func(p string) map[string]any {
		return map[string]any{"type": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{map[string]any{"path": p}}}}
	}
	m := map[string]any{"version": "2", "pipelines": []any{
		map[string]any{"name": "a", "stages": []any{mkdir("/x")}},
		map[string]any{"name": "b", "stages": []any{mkdir("/x"), mkdir("/y")}},
	}}
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	args = append(args, "--checkpoint", "a", "--output-directory", out, "--export", "a", "--export", "b",
		writeJSON(t, "floating.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "org.osbuild.mkdir done"); n != 2 {
		t.Fatalf("%d stages ran, want 2 (b resumed from a's floating checkpoint)\n%s", n, r.stderr)
	}
	for _, p := range []string{"a/x", "b/x", "b/y"} {
		if fi, err := os.Stat(filepath.Join(out, p)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", p, err)
		}
	}
}
