package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/images/debian/mpp/mpptest"
)

// fakeDebian serves a small signed trixie and makes the command line trust
// it for the test.
func fakeDebian(t *testing.T) *mpptest.Archive {
	t.Helper()
	a := mpptest.Serve(t, "trixie", []string{"amd64", "arm64"},
		mpptest.Package{Name: "base", Version: "1", Fields: []string{"Essential: yes", "Priority: required"}},
		mpptest.Package{Name: "apt", Version: "2", Fields: []string{"Priority: required", "Depends: base"}},
		mpptest.Package{Name: "hello", Version: "3", Fields: []string{"Depends: libhello"}},
		mpptest.Package{Name: "libhello", Version: "1"})
	oldKeys, oldClock := archiveKeyring, archiveClock
	archiveKeyring, archiveClock = a.Keyring, mpptest.Now
	t.Cleanup(func() { archiveKeyring, archiveClock = oldKeys, oldClock })
	return a
}

// debRef is the reference the fake archive's .deb of name gets.
func debRef(name, version, arch string) string {
	sum := sha256.Sum256([]byte(name + " " + version + " " + arch))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// runCLI runs the command line in-process: stdout, stderr (with the error
// main would print) and the exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx := context.Background()
	err := Run(ctx, args, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		errb.WriteString(err.Error() + "\n")
	}
	return out.String(), errb.String(), ExitCode(ctx, err)
}

func TestDepsolve(t *testing.T) {
	a := fakeDebian(t)
	store := t.TempDir()
	args := []string{"depsolve", "--arch", "arm64", "--mirror", a.URL, "--store", store, "testdata/depsolve.json"}
	out, errOut, code := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	order := []string{debRef("base", "1", "arm64"), debRef("apt", "2", "arm64"), debRef("libhello", "1", "arm64"), debRef("hello", "3", "arm64")}
	last := -1
	for _, ref := range order {
		i := strings.Index(out, `"`+ref+`"`)
		if i < 0 || i < last {
			t.Fatalf("references out of order or missing (want %v):\n%s", order, out)
		}
		last = i
	}
	if !strings.Contains(out, `"url": "`+a.URL+`/pool/main/h/hello/hello_3_arm64.deb"`) {
		t.Errorf("no curl source for hello:\n%s", out)
	}
	before := a.Requests()
	again, _, code := runCLI(t, "", args...)
	if code != 0 || again != out {
		t.Errorf("second run: exit %d, same output %v", code, again == out)
	}
	if n := a.Requests() - before; n != 0 {
		t.Errorf("second run made %d requests, want 0 (indices cached in the store)", n)
	}
	before = a.Requests()
	if _, errOut, code := runCLI(t, "", append([]string{"depsolve", "--refresh"}, args[1:]...)...); code != 0 {
		t.Fatalf("--refresh: exit %d: %s", code, errOut)
	}
	if n := a.Requests() - before; n != 1 {
		t.Errorf("--refresh made %d requests, want 1 (InRelease only)", n)
	}
}

func TestDepsolveFailures(t *testing.T) {
	a := fakeDebian(t)
	directive := func(d string) string {
		return `{"version": "2", "pipelines": [{"name": "os", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs":
			{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": ` + d + `}}}]}]}`
	}
	tests := []struct {
		name, stdin string
		flags       []string
		code        int
		msg         string
	}{
		{"unknown package", directive(`{"suite": "trixie", "packages": ["helo"]}`), nil, 2, "helo: unknown package: not in the archive for arm64; close matches: hello"},
		{"unsatisfiable", directive(`{"suite": "trixie", "packages": ["hello"], "exclude": ["libhello"]}`), nil, 2, "hello 3 depends on libhello"},
		{"bad directive", directive(`{"suite": "trixie", "packages": "hello"}`), nil, 2, ".packages: bad mpp-depsolve-deb directive: must be an array of strings"},
		{"not JSON", `{"version": "2",`, nil, 2, "not valid JSON"},
		{"bad --arch", directive(`{"suite": "trixie", "packages": ["hello"]}`), []string{"--arch", "ARM"}, 2, "--arch"},
		{"bad --mirror", directive(`{"suite": "trixie", "packages": ["hello"]}`), []string{"--mirror", "ftp://x"}, 2, "not an http or https URL"},
		{"unreachable mirror", directive(`{"suite": "trixie", "packages": ["hello"]}`), []string{"--mirror", "http://127.0.0.1:1"}, 1, "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"depsolve", "--arch", "arm64", "--mirror", a.URL, "--store", t.TempDir()}, tt.flags...)
			out, errOut, code := runCLI(t, tt.stdin, append(args, "-")...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1] // the error, as main prints it; progress lines come before
			if code != tt.code || !strings.Contains(last, tt.msg) || !strings.HasPrefix(last, "depsolve: ") || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout, a last line with %q", code, out, errOut, tt.code, tt.msg)
			}
		})
	}
	a.Set("dists/trixie/InRelease", bytes.Replace(a.Get("dists/trixie/InRelease"), []byte("Codename: trixie"), []byte("Codename: trixiE"), 1))
	_, errOut, code := runCLI(t, directive(`{"suite": "trixie", "packages": ["hello"]}`), "depsolve", "--mirror", a.URL, "--store", t.TempDir(), "-")
	if code != 1 || !strings.Contains(errOut, "bad archive signature") {
		t.Errorf("tampered InRelease: exit %d, %q; want exit 1 and a signature error", code, errOut)
	}
}

func TestRunResolvesFirst(t *testing.T) {
	a := fakeDebian(t)
	store, outDir := t.TempDir(), filepath.Join(t.TempDir(), "out")
	_, errOut, code := runCLI(t, "", "run", "--arch", "arm64", "--mirror", a.URL, "--store", store, "--output-directory", outDir, "--inspect", "testdata/depsolve.json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	pinned, err := os.ReadFile(filepath.Join(outDir, PinnedManifestName))
	if err != nil {
		t.Fatalf("no pinned manifest: %v", err)
	}
	want, _, _ := runCLI(t, "", "depsolve", "--arch", "arm64", "--mirror", a.URL, "--store", store, "testdata/depsolve.json")
	if string(pinned) != want {
		t.Errorf("run's pinned manifest differs from depsolve's output")
	}
	// The pinned manifest runs as it is, resolving nothing.
	before := a.Requests()
	if _, errOut, code := runCLI(t, "", "run", "--arch", "arm64", "--store", store, "--inspect", filepath.Join(outDir, PinnedManifestName)); code != 0 || a.Requests() != before {
		t.Errorf("run of the pinned manifest: exit %d (%s), %d requests", code, errOut, a.Requests()-before)
	}
	_, errOut, code = runCLI(t, "", "run", "--arch", "arm64", "--mirror", a.URL, "--store", store, "--inspect", "testdata/depsolve.json")
	if code != 0 || !strings.Contains(errOut, "without --output-directory the pinned manifest is not written") {
		t.Errorf("run without --output-directory: exit %d, stderr %q", code, errOut)
	}
}

func TestRunUnresolvableWritesNothing(t *testing.T) {
	a := fakeDebian(t)
	outDir := filepath.Join(t.TempDir(), "out")
	manifest := `{"version": "2", "pipelines": [{"name": "os", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs":
		{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie", "packages": ["nosuch"]}}}}]}]}`
	_, errOut, code := runCLI(t, manifest, "run", "--arch", "arm64", "--mirror", a.URL, "--store", t.TempDir(), "--output-directory", outDir, "--export", "os", "-")
	if code != 2 || !strings.Contains(errOut, "run: .pipelines[0].stages[0].inputs.debs.mpp-depsolve-deb: nosuch: unknown package") {
		t.Errorf("exit %d, stderr %q; want exit 2 naming the package", code, errOut)
	}
	if _, err := os.Stat(outDir); !os.IsNotExist(err) {
		t.Errorf("output directory created for a request that failed: %v", err)
	}
}
