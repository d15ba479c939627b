package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/remotecache/registrytest"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// The hello example's checkpoints that the remote-cache tests push: the
// first stage of the tree, the tree, the archive.
const (
	helloFirst   = "4c186338d7c03d01346d8bfaa4508e7f3d5a016ac8bd33233bb2fddadcea90c0"
	helloTree    = "2cb76285318d96bed9863f548fed109acad75fb609c1e16331e24f12087c535f"
	helloArchive = "a95c02a758a1ac1d225137e9ebf7fdff44a5bfc865624e84ef06a55631d0ac87"
)

// helloCheckpoints selects those three.
var helloCheckpoints = []string{"--checkpoint", "org.osbuild.mkdir", "--checkpoint", "tree", "--checkpoint", "archive"}

// ciRunner is one CI runner: its own store, the same remote cache.
type ciRunner struct {
	t      *testing.T
	store  string
	remote []string // --remote-cache flags
	kernel string   // --vm-kernel
}

func newRunner(t *testing.T, ref string, kernel string, extra ...string) *ciRunner {
	return &ciRunner{t: t, store: t.TempDir(), kernel: kernel,
		remote: append([]string{"--remote-cache", ref, "--remote-cache-plain-http"}, extra...)}
}

// build runs manifest exporting archive and returns the artifact's bytes
// and what the run printed.
func (r *ciRunner) build(manifest string, flags ...string) ([]byte, string) {
	r.t.Helper()
	out := r.t.TempDir()
	args := append([]string{"run", "--arch", "amd64", "--vm-kernel", r.kernel, "--store", r.store}, r.remote...)
	args = append(append(args, flags...), "--output-directory", out, "--export", "archive", manifest)
	res := osbuildVM(context.Background(), r.t, args...)
	if res.code != 0 {
		r.t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "archive", "hello.tar"))
	if err != nil {
		r.t.Fatal(err)
	}
	if left := storeLeftovers(r.t, r.store); len(left) != 0 {
		r.t.Fatalf("store leftovers: %v", left)
	}
	return b, res.stderr
}

// has says whether the runner's store holds object id, committed and
// intact (its tree matches the digest recorded at its commit).
func (r *ciRunner) has(id string) bool {
	r.t.Helper()
	st, err := store.Open(r.store, store.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	defer st.Close()
	_, err = st.Tree(id)
	return err == nil && st.Cached(id)
}

// remoteLines returns the lines a run printed about the remote cache.
func remoteLines(stderr string) []string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "remote cache") {
			lines = append(lines, l)
		}
	}
	return lines
}

var stageDone = regexp.MustCompile(`stage \d+/\d+ \S+ done`)

// objectDigest reads the tree digest a store recorded for object id.
func objectDigest(t *testing.T, store, id string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(store, "objects", id, "info.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ SHA256 string }
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	return info.SHA256
}

// TestRemoteCacheHello: runner A builds the example and pushes its
// checkpoints; then, each with an empty store: runner B pulls what the
// export needs and boots no VM; a runner with a longer manifest resumes
// from the deepest remote checkpoint; a runner whose registry serves a
// damaged blob refuses it and rebuilds; a runner whose registry stops in
// the middle of a pull warns once and builds locally. Every runner
// exports the bytes A exported.
func TestRemoteCacheHello(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t, registrytest.Options{})
	kernel := kernelDir(t, "amd64")
	noKernel := filepath.Join(t.TempDir(), "no-kernel-here") // a VM boot would fail

	a := newRunner(t, reg.Ref("ci/osbuild"), kernel, "--remote-cache-push")
	first, stderr := a.build(hello, append(helloCheckpoints, "--cache-max-size", "unlimited")...)
	for _, id := range []string{helloFirst, helloTree, helloArchive} {
		if !strings.Contains(stderr, "remote cache: pushed "+id+" to "+reg.Ref("ci/osbuild")) {
			t.Fatalf("A did not push %s:\n%s", id, stderr)
		}
	}

	t.Run("everything pulled, no VM", func(t *testing.T) {
		b := newRunner(t, reg.Ref("ci/osbuild"), noKernel)
		got, stderr := b.build(hello, helloCheckpoints...)
		if !bytes.Equal(first, got) {
			t.Fatal("B exported different bytes")
		}
		lines := remoteLines(stderr)
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "remote cache: pulled "+helloArchive+" from ") {
			t.Fatalf("want the archive pulled and nothing else, got %q\n%s", lines, stderr)
		}
	})

	t.Run("resumes from the deepest remote checkpoint", func(t *testing.T) {
		longer := longerHello(t)
		b := newRunner(t, reg.Ref("ci/osbuild"), kernel, "--remote-cache-push") // keeps nothing: pushes floating objects
		got, stderr := b.build(longer, helloCheckpoints...)
		lines := remoteLines(stderr)
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "remote cache: pulled "+helloTree+" from ") ||
			!strings.HasPrefix(lines[1], "remote cache: pushed ") || !strings.HasPrefix(lines[2], "remote cache: pushed ") {
			t.Fatalf("want the tree's checkpoint pulled and nothing else, then two pushes, got %q\n%s", lines, stderr)
		}
		ls := osbuildVM(context.Background(), t, "cache", "ls", "--store", t.TempDir(), "--remote-cache", reg.Ref("ci/osbuild"),
			"--remote-cache-plain-http", "--checkpoint", "tree", "--checkpoint", "archive", longer)
		if ls.code != 0 || strings.Count(ls.stdout, "remote ") != 2 {
			t.Fatalf("the longer manifest's checkpoints are not in the registry: exit %d\n%s%s", ls.code, ls.stdout, ls.stderr)
		}
		if n := len(stageDone.FindAllString(stderr, -1)); n != 2 {
			t.Fatalf("%d stages ran, want 2 (the added one and the archive)\n%s", n, stderr)
		}
		if files := tarEntriesOf(t, got); files["srv"] != "" || !strings.Contains(strings.Join(keys(files), " "), "srv") {
			t.Fatalf("the added stage's directory is missing: %v", keys(files))
		}
	})

	t.Run("damaged blob refused and rebuilt", func(t *testing.T) {
		other := registrytest.Start(t, registrytest.Options{})
		res := osbuildVM(context.Background(), t, "cache", "push", "--store", a.store, "--remote-cache", other.Ref("c"),
			"--remote-cache-plain-http", helloArchive)
		if res.code != 0 {
			t.Fatalf("cache push: exit %d\n%s", res.code, res.stderr)
		}
		damageFile(t, other.BlobPath("sha256:"+objectDigest(t, a.store, helloArchive)))
		c := newRunner(t, other.Ref("c"), kernel)
		got, stderr := c.build(hello, "--checkpoint", "archive", "--cache-max-size", "unlimited")
		if !bytes.Equal(first, got) {
			t.Fatal("the rebuild exported different bytes")
		}
		lines := remoteLines(stderr)
		if len(lines) != 1 || !strings.Contains(lines[0], "artifact refused") || !strings.HasSuffix(lines[0], "; building it") {
			t.Fatalf("want one line refusing the archive, got %q\n%s", lines, stderr)
		}
		if !c.has(helloArchive) {
			t.Fatal("the rebuilt checkpoint was not committed")
		}
	})

	t.Run("registry stopped mid-pull", func(t *testing.T) {
		proxy := registrytest.NewProxy(t, reg, registrytest.Cut)
		tree := "/blobs/sha256:" + objectDigest(t, a.store, helloArchive)
		proxy.Match = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, tree) }
		proxy.OnBreak = reg.Stop
		d := newRunner(t, proxy.Ref("ci/osbuild"), kernel)
		got, stderr := d.build(hello, "--checkpoint", "archive", "--cache-max-size", "unlimited")
		if !proxy.Broken() || !bytes.Equal(first, got) {
			t.Fatalf("cut: %v, same bytes: %v", proxy.Broken(), bytes.Equal(first, got))
		}
		lines := remoteLines(stderr)
		if len(lines) != 1 || !strings.HasSuffix(lines[0], "; building without it") {
			t.Fatalf("want one warning line, got %q\n%s", lines, stderr)
		}
		if n := len(stageDone.FindAllString(stderr, -1)); n != 11 {
			t.Fatalf("%d stages ran, want all 11 built locally\n%s", n, stderr)
		}
		if !d.has(helloArchive) {
			t.Fatal("the checkpoint built after the cut was not committed")
		}
	})
	noStrayProcesses(t)
}

// longerHello writes the example with one more stage at the end of its
// tree: the tree's checkpoint is the deepest one the remote has of it.
func longerHello(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	tree := m["pipelines"].([]any)[0].(map[string]any)
	tree["stages"] = append(tree["stages"].([]any), map[string]any{
		"type": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{map[string]any{"path": "/srv"}}}})
	return writeJSON(t, "longer.json", m)
}

// tarEntriesOf reads tar bytes as tarEntries does a file.
func tarEntriesOf(t *testing.T, b []byte) map[string]string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return tarEntries(t, p)
}

// TestRemoteCacheBadCredentials: a registry that refuses the runner's
// credentials costs one clear line, and the run goes on without it (here
// to the VM, whose kernel is missing: nothing was pulled).
func TestRemoteCacheBadCredentials(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"ci": "right"}})
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:wrong"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	res := osbuildVM(context.Background(), t, "run", "--arch", "amd64", "--vm-kernel", filepath.Join(dir, "no-kernel"),
		"--store", t.TempDir(), "--remote-cache", reg.Ref("private"), "--remote-cache-plain-http",
		"--output-directory", t.TempDir(), "--export", "archive", hello)
	lines := remoteLines(res.stderr)
	if len(lines) != 1 || !strings.Contains(lines[0], "access denied") || !strings.Contains(lines[0], "docker login "+reg.Host) ||
		!strings.HasSuffix(lines[0], "; building without it") {
		t.Fatalf("want one line about the credentials, got %q\n%s", lines, res.stderr)
	}
	if res.code != 1 || !strings.Contains(res.stderr, "no-kernel") {
		t.Fatalf("the run did not go on to build: exit %d\n%s", res.code, res.stderr)
	}
}
