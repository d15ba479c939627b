// Package stagetest builds stage arguments around temporary directories,
// so stage tests run on the host without a VM.
package stagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// Args returns arguments with a fresh tree and the given options JSON.
func Args(t testing.TB, options string) *api.Arguments {
	t.Helper()
	base := t.TempDir()
	tree := filepath.Join(base, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	return &api.Arguments{
		Tree: tree,
		Paths: api.Paths{
			Inputs: filepath.Join(base, "inputs"),
			Mounts: filepath.Join(base, "mounts"),
			Meta:   filepath.Join(base, "meta.json"),
		},
		Inputs:  map[string]api.Input{},
		Options: json.RawMessage(options),
	}
}

// Checksum is the "sha256:<hex>" reference of data.
func Checksum(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// FileInput adds an org.osbuild.files input holding the given files (in
// that order) and returns their references.
func FileInput(t testing.TB, args *api.Arguments, name string, files ...[]byte) []string {
	t.Helper()
	dir := filepath.Join(args.Paths.Inputs, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var refs []string
	in := api.Input{Path: dir}
	for _, f := range files {
		sum := Checksum(f)
		if err := os.WriteFile(filepath.Join(dir, sum), f, 0o644); err != nil {
			t.Fatal(err)
		}
		in.Data.Files = append(in.Data.Files, api.FileRef{Checksum: sum})
		refs = append(refs, sum)
	}
	args.Inputs[name] = in
	return refs
}

// TreeInput adds an org.osbuild.tree input with an empty root and
// returns that root.
func TreeInput(t testing.TB, args *api.Arguments, name string) string {
	t.Helper()
	dir := filepath.Join(args.Paths.Inputs, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args.Inputs[name] = api.Input{Path: dir}
	return dir
}

// Epoch sets the arguments' SOURCE_DATE_EPOCH.
func Epoch(args *api.Arguments, unix int64) {
	e := time.Unix(unix, 0).UTC()
	args.SourceEpoch = &e
}

// Write creates a file (and its parents) under root.
func Write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Read returns a file's content under root, failing the test if missing.
func Read(t testing.TB, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Symlink creates a symlink under root.
func Symlink(t testing.TB, root, rel, target string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// Outside makes a directory next to the tree that no stage may touch,
// and returns a check that fails the test if anything appeared in it.
func Outside(t testing.TB, args *api.Arguments) (string, func()) {
	t.Helper()
	dir := filepath.Join(filepath.Dir(args.Tree), "outside")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, func() {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("a stage wrote outside the tree: %s", filepath.Join(dir, e.Name()))
		}
	}
}
