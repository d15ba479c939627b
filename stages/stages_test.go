package stages

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/meta"
)

func metaNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := fs.ReadDir(meta.FS, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".meta.json"))
	}
	return out
}

// TestEveryStageHasMeta keeps the registry and the schemas in step.
func TestEveryStageHasMeta(t *testing.T) {
	if diff := cmp.Diff(metaNames(t, "stages"), Names()); diff != "" {
		t.Errorf("stages vs meta files (-meta +registry):\n%s", diff)
	}
	if diff := cmp.Diff(metaNames(t, "assemblers"), AssemblerNames()); diff != "" {
		t.Errorf("assemblers vs meta files (-meta +registry):\n%s", diff)
	}
	for _, n := range Names() {
		if s, ok := Lookup(n); !ok || s == nil {
			t.Errorf("Lookup(%s) failed", n)
		}
	}
	if _, ok := Lookup("org.osbuild.rpm"); ok {
		t.Error("Lookup of a stage we do not have succeeded")
	}
}

func writeArgs(t *testing.T, options string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "input")
	if err := os.MkdirAll(filepath.Join(in, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := api.Arguments{Tree: tree, Options: json.RawMessage(options),
		Inputs: map[string]api.Input{"tree": {Path: in}}}
	data, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "arguments")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(api.ArgumentsEnv, p)
	return tree, p
}

func TestMultiCallMain(t *testing.T) {
	cases := []struct {
		argv0, options, wantFile string
		handled                  bool
		code                     int
	}{
		{"/run/osbuild/bin/org.osbuild.hostname", `{"hostname": "vm"}`, "etc/hostname", true, 0},
		{"/run/osbuild/bin/org.osbuild.hostname", `{"hostname": "not valid"}`, "", true, 1},
		{"/run/osbuild/bin/org.osbuild.tar", `{"filename": "v2.tar", "root-node": "omit"}`, "v2.tar", true, 0},
		{"/run/osbuild/bin/assemblers/org.osbuild.tar", `{"filename": "v1.tar"}`, "v1.tar", true, 0},
		{"/run/osbuild/bin/assemblers/org.osbuild.tar", `{"filename": "v1.tar", "compression": "lzop"}`, "", true, 1},
		{"/run/osbuild/bin/assemblers/org.osbuild.hostname", `{}`, "", false, 0},
		{"/sbin/init", `{}`, "", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.argv0+tc.options, func(t *testing.T) {
			tree, _ := writeArgs(t, tc.options)
			handled, code := Main(tc.argv0)
			if handled != tc.handled || code != tc.code {
				t.Fatalf("Main = %v, %d; want %v, %d", handled, code, tc.handled, tc.code)
			}
			if tc.wantFile == "" {
				return
			}
			if _, err := os.Stat(filepath.Join(tree, tc.wantFile)); err != nil {
				t.Errorf("output: %v", err)
			}
		})
	}
}

func TestMainMissingArguments(t *testing.T) {
	t.Setenv(api.ArgumentsEnv, filepath.Join(t.TempDir(), "missing"))
	if handled, code := Main("/run/osbuild/bin/org.osbuild.noop"); !handled || code != 1 {
		t.Errorf("Main = %v, %d", handled, code)
	}
}
