package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runRun runs `osbuild-vm run args…` in-process with a fresh store path
// and returns stdout, stderr, the exit code and the store path.
func runRun(t *testing.T, stdin string, args ...string) (string, string, int, string) {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	var out, errb bytes.Buffer
	ctx := context.Background()
	full := append([]string{"run", "--store", store}, args...)
	err := Run(ctx, full, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		errb.WriteString(err.Error() + "\n") // what main prints
	}
	return out.String(), errb.String(), ExitCode(ctx, err), store
}

func TestRunInspect(t *testing.T) {
	for _, name := range []string{"good-v2", "good-v1"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile("testdata/" + name + ".inspect")
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, code, store := runRun(t, "", "--inspect", "testdata/"+name+".json")
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if diff := cmp.Diff(string(want), out); diff != "" {
				t.Errorf("--inspect differs from upstream osbuild's (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("--inspect created the store: %v", err)
			}
		})
	}
}

func TestRunInspectStdinAndFlagOrder(t *testing.T) {
	data, err := os.ReadFile("testdata/good-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("testdata/good-v2.inspect")
	out, errOut, code, _ := runRun(t, string(data), "-", "--inspect", "--checkpoint", "os")
	if code != 0 || out != string(want) {
		t.Errorf("stdin: exit %d, stderr %q", code, errOut)
	}
}

// TestRunBadManifests: every bad manifest exits 2 with messages that name
// the file and the place, and leaves no store behind.
func TestRunBadManifests(t *testing.T) {
	tests := []struct {
		file string
		want string // in stderr
	}{
		{"bad-truncated.json", "unexpected end of input"},
		{"bad-not-object.json", "manifest: a JSON string, not an object"},
		{"bad-latin1.json", "not valid UTF-8"},
		{"bad-version.json", ".version"},
		{"bad-build-missing.json", `.pipelines[0].build: unknown pipeline "missing"`},
		{"bad-build-cycle.json", "build with each other"},
		{"bad-duplicate.json", `.pipelines[1].name: pipeline name "a" is used twice`},
		{"bad-input-missing.json", `.pipelines[0].stages[0].inputs.t.references[0]: unknown pipeline "nope"`},
		{"bad-checksum.json", ".sources.org.osbuild.curl.items"},
		{"bad-options-type.json", ".pipelines[0].stages[0].options"},
		{"bad-unknown-stage.json", `unknown stage "org.example.nonexistent"`},
	}
	files, _ := filepath.Glob("testdata/bad-*.json")
	if len(files) != len(tests) {
		t.Errorf("%d bad-*.json files, %d table entries", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, errOut, code, store := runRun(t, "", "testdata/"+tt.file)
			if code != ExitInvalid {
				t.Errorf("exit %d, want 2; stderr %q", code, errOut)
			}
			if !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, tt.file) {
				t.Errorf("stderr %q does not name the file and %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if _, err := os.Stat(store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("invalid input created the store: %v", err)
			}
		})
	}
}

func TestRunJSONValidationResult(t *testing.T) {
	out, _, code, _ := runRun(t, "", "--json", "testdata/bad-unknown-stage.json")
	var doc struct {
		Type    string `json:"type"`
		Success *bool  `json:"success"`
		Errors  []struct {
			Path    []any  `json:"path"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitInvalid {
		t.Fatalf("exit %d, stdout %q: %v", code, out, err)
	}
	if doc.Type != "https://osbuild.org/validation-error" || doc.Success == nil || *doc.Success ||
		len(doc.Errors) != 1 || len(doc.Errors[0].Path) != 4 {
		t.Errorf("unexpected document %s", out)
	}
}

func TestRunTargetErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown export", []string{"--export", "nope", "--output-directory", "out"}, ExitFailed, `export "nope" not found`},
		{"export without output", []string{"--export", "os"}, ExitFailed, "--export needs --output-directory"},
		{"no checkpoint matched", []string{"--checkpoint", "zzz*", "--inspect"}, ExitFailed, "no checkpoints matched zzz*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code, store := runRun(t, "", append(tt.args, "testdata/good-v2.json")...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.want)
			}
			if _, err := os.Stat(store); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the store was created: %v", err)
			}
		})
	}
}

func TestRunFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--arch", "arm", "m.json"}, `--arch: unknown value "arm"; use amd64, arm64`},
		{[]string{"--accel", "hvf", "m.json"}, `--accel: unknown value "hvf"`},
		{[]string{"--monitor", "Fancy", "m.json"}, `--monitor: unknown value "Fancy"`},
		{[]string{"--cache-max-size", "12XB", "m.json"}, `invalid size "12XB"`},
		{[]string{"--stage-timeout", "soon", "m.json"}, `invalid seconds "soon"`},
		{[]string{"--memory", "1MiB", "m.json"}, "at least 256MiB"},
		{[]string{"--cpus", "0", "m.json"}, "--cpus"},
		{[]string{"--frobnicate", "m.json"}, "flag provided but not defined: -frobnicate"},
		{[]string{}, "expected one MANIFEST argument, got 0"},
		{[]string{"a.json", "b.json"}, "expected one MANIFEST argument, got 2"},
		{[]string{"testdata/does-not-exist.json"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code, _ := runRun(t, "", tt.args...)
			if code != ExitInvalid || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", code, errOut, tt.want)
			}
		})
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	out, _, code, _ := runRun(t, "", "--version")
	if code != 0 || out != "osbuild-vm "+Version+"\n" {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	out, _, code, _ = runRun(t, "", "-h")
	if code != 0 || !strings.Contains(out, "usage: osbuild-vm run") {
		t.Errorf("-h: exit %d, %q", code, out)
	}
}

func TestParseRunFlags(t *testing.T) {
	t.Setenv("OSBUILD_VM_MIRROR", "http://mirror.invalid/debian")
	args := []string{"m.json", "--store", "st", "--output-directory=out", "--checkpoint", "a", "--checkpoint=b*",
		"--export", "os", "--export", "os", "--json", "-l", "lib1", "--libdir", "lib2", "--cache-max-size", "2 GiB",
		"--monitor", "JSONSeqMonitor", "--monitor-fd", "3", "--stage-timeout", "60", "--arch", "arm64",
		"--accel", "tcg", "--memory", "4GiB", "--cpus", "2", "--vm-kernel", "k"}
	o, err := parseRunFlags(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	abs := func(p string) string { return filepath.Join(wd, p) }
	got := *o
	got.Modules = nil
	want := runOptions{ManifestPath: "m.json", ManifestName: "m.json", Store: abs("st"), OutputDirectory: abs("out"),
		Checkpoints: []string{"a", "b*"}, Exports: []string{"os"}, JSON: true, Libdirs: []string{abs("lib1"), abs("lib2")},
		CacheMaxSize: 2 << 30, CacheMaxSet: true, Monitor: "JSONSeqMonitor", MonitorFD: 3, StageTimeout: time.Minute,
		Arch: "arm64", Accel: "tcg", Memory: 4 << 30, CPUs: 2, Mirror: "http://mirror.invalid/debian", VMKernel: abs("k")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	if o.Modules == nil {
		t.Error("no module index")
	}
}

func TestParseRunFlagsDefaults(t *testing.T) {
	t.Setenv("OSBUILD_VM_MIRROR", "")
	o, err := parseRunFlags([]string{"--mirror", "http://m.invalid", "-"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if o.Store != filepath.Join(wd, ".osbuild") || o.ManifestName != "<stdin>" || o.Monitor != "LogMonitor" ||
		o.MonitorFD != 1 || o.Arch != runtime.GOARCH || o.Accel != "auto" || o.Memory != 2<<30 ||
		o.CPUs < 1 || o.Mirror != "http://m.invalid" || o.CacheMaxSet || o.StageTimeout != 0 {
		t.Errorf("defaults: %+v", o)
	}
}

func TestParseCacheSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"unlimited", -1, true}, {"123", 123, true}, {" 123", 123, true}, {"123 ", 0, false},
		{"1kB", 1000, true}, {"1KiB", 1024, true}, {"2 MB", 2e6, true}, {"2MiB", 2 << 20, true},
		{"3GB", 3e9, true}, {"3GiB", 3 << 30, true}, {"1TB", 1e12, true}, {"1TiB", 1 << 40, true},
		{"1kiB", 0, false}, {"1.5GB", 0, false}, {"-1", 0, false}, {"", 0, false}, {"Unlimited", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := store.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("store.ParseSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
