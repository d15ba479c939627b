package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/remotecache/registrytest"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// The hello example's checkpoints as `cache ls` lists them: the tree
// pipeline's last stage and the archive.
const (
	hello        = "../images/hello/hello.json"
	helloTree    = "2cb76285318d96bed9863f548fed109acad75fb609c1e16331e24f12087c535f"
	helloArchive = "a95c02a758a1ac1d225137e9ebf7fdff44a5bfc865624e84ef06a55631d0ac87"
)

// cli runs the command line in-process and returns stdout, stderr (with
// the error main would print) and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx := context.Background()
	err := Run(ctx, args, strings.NewReader(""), &out, &errb)
	if err != nil && err.Error() != "" {
		errb.WriteString("osbuild-vm: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), ExitCode(ctx, err)
}

// storeWith makes a store (unlimited) holding objects ids, each a small
// tree derived from its id.
func storeWith(t *testing.T, ids ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := store.Open(dir, store.Options{MaxSize: ptr(store.Unlimited)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range ids {
		p, err := st.NewObject(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WriteTree(func(w io.Writer) error { _, err := fmt.Fprintf(w, "tree of %s", id); return err }); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Commit(map[string]json.RawMessage{id: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ptr(n int64) *int64 { return &n }

// noDockerConfig points $DOCKER_CONFIG at an empty directory, so that no
// credentials of the machine leak into a test.
func noDockerConfig(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

// TestCacheCommands: push by ID and by pattern, ls from two stores (local,
// remote, missing), pull into a store that keeps objects, all against a
// real registry.
func TestCacheCommands(t *testing.T) {
	noDockerConfig(t)
	reg := registrytest.Start(t, registrytest.Options{})
	remote := []string{"--remote-cache", reg.Ref("ci/osbuild"), "--remote-cache-plain-http"}
	a := storeWith(t, helloTree, helloArchive)

	out, errOut, code := cli(t, append([]string{"cache", "push", "--store", a, helloArchive, "2cb7*"}, remote...)...)
	if code != 0 || !strings.Contains(out, "pushed "+helloArchive) || !strings.Contains(out, "pushed "+helloTree) {
		t.Fatalf("push: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = cli(t, append([]string{"cache", "push", "--store", a, "*"}, remote...)...)
	if code != 0 || strings.Count(out, "is already in "+reg.Ref("ci/osbuild")) != 2 {
		t.Fatalf("second push: exit %d\n%s", code, out)
	}

	b := filepath.Join(t.TempDir(), "b")
	want := map[string]string{helloTree: "remote", helloArchive: "remote"}
	checkLs(t, append([]string{"--store", b}, remote...), want)
	checkLs(t, []string{"--store", a}, map[string]string{helloTree: "local", helloArchive: "local"})

	_, errOut, code = cli(t, append([]string{"cache", "pull", "--store", b, helloArchive}, remote...)...)
	if code != 2 || !strings.Contains(errOut, "--cache-max-size") {
		t.Fatalf("pull into a store that keeps nothing: exit %d, %q", code, errOut)
	}
	out, errOut, code = cli(t, append([]string{"cache", "pull", "--store", b, "--cache-max-size", "unlimited", helloArchive}, remote...)...)
	if code != 0 || !strings.Contains(out, "pulled "+helloArchive) {
		t.Fatalf("pull: exit %d\n%s%s", code, out, errOut)
	}
	want[helloArchive] = "local"
	checkLs(t, append([]string{"--store", b}, remote...), want)
}

// checkLs runs cache ls on the hello example and compares the state of
// each stage with want (stages not in want: missing).
func checkLs(t *testing.T, args []string, want map[string]string) {
	t.Helper()
	out, errOut, code := cli(t, append(append([]string{"cache", "ls"}, args...), hello)...)
	if code != 0 {
		t.Fatalf("ls: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Fatalf("ls listed %d stages, want the example's 11:\n%s", len(lines), out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		state := want[f[1]]
		if state == "" {
			state = "missing"
		}
		if f[0] != state {
			t.Errorf("ls: %s, want %s", line, state)
		}
	}
}

// TestCacheLsCheckpoints: --checkpoint narrows ls to the checkpoints a
// run with the same patterns commits.
func TestCacheLsCheckpoints(t *testing.T) {
	out, errOut, code := cli(t, "cache", "ls", "--store", t.TempDir(), "--checkpoint", "archive", "--checkpoint", "tree", hello)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantOut := fmt.Sprintf("missing  %s  tree  org.osbuild.systemd\nmissing  %s  archive  org.osbuild.tar\n", helloTree, helloArchive)
	if out != wantOut {
		t.Fatalf("ls:\n%s\nwant:\n%s", out, wantOut)
	}
}

// TestCacheBadCredentials: a registry refusing the credentials is one
// line saying so and where credentials come from, exit 1.
func TestCacheBadCredentials(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"ci": "right"}})
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:wrong"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	a := storeWith(t, helloArchive)
	for _, args := range [][]string{
		{"cache", "push", "--store", a, helloArchive},
		{"cache", "pull", "--store", a, "--cache-max-size", "unlimited", helloTree},
		{"cache", "ls", "--store", a, hello},
	} {
		_, errOut, code := cli(t, append(args, "--remote-cache", reg.Ref("private"), "--remote-cache-plain-http")...)
		if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "access denied") ||
			!strings.Contains(errOut, "docker login "+reg.Host) {
			t.Errorf("%s: exit %d, want one line about the credentials:\n%s", args[1], code, errOut)
		}
	}
}

// TestRemoteCacheFlagErrors: bad remote-cache flags exit 2 with one line
// before anything touches a store or a registry.
func TestRemoteCacheFlagErrors(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"run", "--remote-cache", "no-repository", hello}, "HOST[:PORT]/REPOSITORY"},
		{"", []string{"run", "--remote-cache", "r.example/cache:tag", hello}, "tagged by their IDs"},
		{"", []string{"run", "--remote-cache-push", hello}, "--remote-cache-push needs --remote-cache"},
		{"bad", []string{"run", hello}, "HOST[:PORT]/REPOSITORY"},
		{"", []string{"cache", "push", "--store", store, helloTree}, "no remote cache"},
		{"", []string{"cache", "pull", "--remote-cache", "r.example/c", "--store", store, "xyz"}, "invalid object id"},
		{"", []string{"cache", "ls", "--store", store}, "expected arguments"},
		{"", []string{"cache", "push", "--store", store, "--remote-cache-push", helloTree}, "not defined"},
		{"", []string{"cache", "nope"}, "use push, pull or ls"},
	} {
		t.Setenv(remoteCacheEnv, tc.env)
		_, errOut, code := cli(t, append(tc.args[:1:1], append([]string{"--store", store}, tc.args[1:]...)...)...)
		if tc.args[0] == "cache" {
			_, errOut, code = cli(t, tc.args...)
		}
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v (env %q): exit %d, %q; want exit 2 and one line with %q", tc.args, tc.env, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("a flag error touched the store: %v", err)
	}
}
