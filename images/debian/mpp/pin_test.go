package mpp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
	"github.com/osbuild-vm/osbuild-vm/engine/validate"
	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/depsolve"
	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// fakeResolver serves a small trixie for amd64 and arm64: an essential
// package, apt, hello and its library.
func fakeResolver(t *testing.T) (*ArchiveResolver, *fakearchive.Archive) {
	t.Helper()
	fa := fakearchive.New(t, "trixie")
	for _, arch := range []string{"amd64", "arm64"} {
		fa.AddDeb(arch, "base", "1", []byte("base "+arch), "Essential: yes", "Priority: required")
		fa.AddDeb(arch, "apt", "2", []byte("apt "+arch), "Priority: required", "Depends: base")
		fa.AddDeb(arch, "hello", "3", []byte("hello "+arch), "Depends: libhello (>= 1) | optional", "Pre-Depends: base")
		fa.AddDeb(arch, "libhello", "1.5", []byte("libhello "+arch))
		fa.AddDeb(arch, "optional", "1", []byte("optional "+arch))
	}
	fa.Publish(t)
	return &ArchiveResolver{Mirror: fa.URL(), Keyring: fa.Keyring, Client: fa.Server.Client(),
		Now: func() time.Time { return fakearchive.Date.Add(time.Hour) }}, fa
}

func TestPin(t *testing.T) {
	res, fa := fakeResolver(t)
	in, err := os.ReadFile("testdata/unresolved.json")
	if err != nil {
		t.Fatal(err)
	}
	out, reqs, err := Pin(context.Background(), in, "arm64", res)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Path != ".pipelines[1].stages[0].inputs.debs.mpp-depsolve-deb" {
		t.Errorf("requests = %+v", reqs)
	}
	got := bytes.ReplaceAll(out, []byte(fa.URL()), []byte("http://mirror.invalid"))
	if *update {
		os.WriteFile("testdata/pinned.golden.json", got, 0o644)
	}
	want, err := os.ReadFile("testdata/pinned.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("pinned manifest differs from testdata/pinned.golden.json (run with -update to see):\n%s", got)
	}
	again, _, err := Pin(context.Background(), in, "arm64", res)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("a second Pin gave other bytes (err %v)", err)
	}
	for _, m := range [][]byte{in, out} {
		r, err := validate.New(modules.NewIndex()).Manifest(m)
		if err != nil {
			t.Fatal(err)
		}
		if valid := r.Valid(); valid != bytes.Equal(m, out) {
			var b strings.Builder
			r.WriteText(&b, "manifest")
			t.Errorf("schema valid = %v for the %s manifest:\n%s", valid, map[bool]string{true: "pinned", false: "unresolved"}[bytes.Equal(m, out)], b.String())
		}
	}
}

func TestPinArchitecture(t *testing.T) {
	res, _ := fakeResolver(t)
	in := []byte(`{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs":
		{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie", "packages": ["libhello"], "architecture": "amd64"}}}}]}]}`)
	out, _, err := Pin(context.Background(), in, "arm64", res)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("libhello_1.5_amd64.deb")) || bytes.Contains(out, []byte("arm64")) {
		t.Errorf("the directive's architecture did not win over the default:\n%s", out)
	}
}

// TestPinArchRestriction: one manifest for several architectures, with
// entries restricted as in Build-Depends.
func TestPinArchRestriction(t *testing.T) {
	res, _ := fakeResolver(t)
	in := []byte(`{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs":
		{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie",
		 "packages": ["libhello [amd64]", "optional [ !amd64 ]", "base"], "exclude": ["apt [arm64 amd64]"]}}}}]}]}`)
	for arch, want := range map[string][]string{
		"amd64": {"libhello_1.5_amd64.deb", "base_1_amd64.deb"},
		"arm64": {"optional_1_arm64.deb", "base_1_arm64.deb"},
	} {
		out, _, err := Pin(context.Background(), in, arch, res)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(out, []byte(`"url"`)); n != len(want) {
			t.Errorf("%s: %d packages, want %q:\n%s", arch, n, want, out)
		}
		for _, w := range want {
			if !bytes.Contains(out, []byte(w)) {
				t.Errorf("%s: %s missing:\n%s", arch, w, out)
			}
		}
	}
}

func TestPinWithoutDirective(t *testing.T) {
	in := []byte(`{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.noop", "options": {"x": 1E2}}]}]}`)
	out, reqs, err := Pin(context.Background(), in, "arm64", nil)
	if err != nil || len(reqs) != 0 || !bytes.Equal(out, in) {
		t.Errorf("Pin without directives = %q, %v, %v; want the input unchanged", out, reqs, err)
	}
}

func TestPinErrors(t *testing.T) {
	stage := func(input string) string {
		return `{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs": ` + input + `}}]}]}`
	}
	directive := func(d string) string {
		return stage(`{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": ` + d + `}`)
	}
	tests := []struct {
		name, manifest string
		want           error
		parts          []string
	}{
		{"in options", `{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.noop", "options": {"mpp-depsolve-deb": {}}}]}]}`,
			ErrBadDirective, []string{".pipelines[0].stages[0].options.mpp-depsolve-deb", "only allowed directly in a stage input"}},
		{"version 1", `{"pipeline": {"stages": [{"name": "org.osbuild.noop", "options": {"mpp-depsolve-deb": {}}}]}}`,
			ErrBadDirective, []string{"version 2"}},
		{"wrong input type", stage(`{"type": "org.osbuild.tree", "origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie", "packages": ["hello"]}}`),
			ErrBadDirective, []string{"org.osbuild.files"}},
		{"wrong origin", stage(`{"type": "org.osbuild.files", "origin": "org.osbuild.pipeline", "mpp-depsolve-deb": {"suite": "trixie", "packages": ["hello"]}}`),
			ErrBadDirective, []string{"org.osbuild.source"}},
		{"references too", stage(`{"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": [], "mpp-depsolve-deb": {"suite": "trixie", "packages": ["hello"]}}`),
			ErrBadDirective, []string{"references too"}},
		{"unknown key", directive(`{"suite": "trixie", "packages": ["hello"], "recommends": true}`),
			ErrBadDirective, []string{".mpp-depsolve-deb.recommends", "unknown key"}},
		{"no suite", directive(`{"packages": ["hello"]}`), ErrBadDirective, []string{".suite", "not a suite name"}},
		{"suite with a slash", directive(`{"suite": "../x", "packages": ["hello"]}`), ErrBadDirective, []string{"not a suite name"}},
		{"packages not strings", directive(`{"suite": "trixie", "packages": [1]}`), ErrBadDirective, []string{".packages", "array of strings"}},
		{"nothing asked", directive(`{"suite": "trixie"}`), ErrBadDirective, []string{"asks for nothing"}},
		{"bad variant", directive(`{"suite": "trixie", "variant": "buildd"}`), ErrBadDirective, []string{".variant", "minbase"}},
		{"empty restriction", directive(`{"suite": "trixie", "packages": ["hello []"]}`), ErrBadDirective, []string{".packages", "architecture restriction"}},
		{"mixed restriction", directive(`{"suite": "trixie", "packages": ["hello [amd64 !arm64]"]}`), ErrBadDirective, []string{".packages", "mixed"}},
		{"bad restriction", directive(`{"suite": "trixie", "packages": ["hello"], "exclude": ["x [amd64] y"]}`), ErrBadDirective, []string{".exclude", "architecture restriction"}},
		{"empty components", directive(`{"suite": "trixie", "packages": ["hello"], "components": []}`), ErrBadDirective, []string{".components"}},
		{"unknown component", directive(`{"suite": "trixie", "packages": ["hello"], "components": ["contrib"]}`), depsolve.ErrBadRequest, []string{"contrib", "main"}},
		{"unknown suite", directive(`{"suite": "sid", "packages": ["hello"]}`), depsolve.ErrBadRequest, []string{"sid", "404"}},
		{"unknown architecture", directive(`{"suite": "trixie", "packages": ["hello"], "architecture": "riscv64"}`), depsolve.ErrBadRequest, []string{"riscv64"}},
		{"unknown package", directive(`{"suite": "trixie", "packages": ["helo"]}`),
			depsolve.ErrUnknownPackage, []string{".pipelines[0].stages[0].inputs.debs.mpp-depsolve-deb", "helo", "close matches: hello"}},
		{"unsatisfiable", directive(`{"suite": "trixie", "packages": ["hello"], "exclude": ["libhello", "optional"]}`),
			depsolve.ErrUnsatisfiable, []string{"hello 3 depends on libhello (>= 1) | optional"}},
	}
	res, _ := fakeResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Pin(context.Background(), []byte(tt.manifest), "arm64", res)
			if !errors.Is(err, tt.want) || !IsRequestError(err) {
				t.Fatalf("Pin error = %v, want %v (a request error)", err, tt.want)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
		})
	}
}

func TestPinInfrastructureErrors(t *testing.T) {
	in := []byte(`{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs":
		{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie", "packages": ["hello"]}}}}]}]}`)
	res, fa := fakeResolver(t)
	fa.Set("dists/trixie/InRelease", fakearchive.Sign(t, fakearchive.NewKey(t), fa.Get("dists/trixie/Release")))
	_, _, err := Pin(context.Background(), in, "arm64", res)
	if !errors.Is(err, archive.ErrBadSignature) || IsRequestError(err) {
		t.Errorf("bad signature: error = %v, want ErrBadSignature and not a request error", err)
	}
	res.Mirror = "http://127.0.0.1:1"
	res.archives, res.universes = nil, nil
	if _, _, err := Pin(context.Background(), in, "arm64", res); err == nil || IsRequestError(err) {
		t.Errorf("unreachable mirror: error = %v, want a failure that is not a request error", err)
	}
}

// TestPinDeepNesting: 20 000 nested directives once took minutes (a path
// built for each); now the first misplaced one is reported at once.
func TestPinDeepNesting(t *testing.T) {
	in := `{"version": "2", "x": ` + strings.Repeat(`{"mpp-depsolve-deb": `, 20000) + "1" + strings.Repeat("}", 20001)
	_, _, err := Pin(context.Background(), []byte(in), "arm64", nil)
	if !errors.Is(err, ErrBadDirective) || !strings.HasPrefix(err.Error(), ".x.mpp-depsolve-deb: ") {
		t.Errorf("Pin error = %v, want the outermost directive reported as misplaced", err)
	}
}

func TestPinMergesSources(t *testing.T) {
	res, fa := fakeResolver(t)
	base := debSum(fa.Get("pool/main/b/base/base_1_arm64.deb"))
	for _, key := range []string{"items", "urls"} {
		t.Run(key, func(t *testing.T) {
			in := `{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "org.osbuild.deb.extract", "inputs": {"debs":
				{"type": "org.osbuild.files", "origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie", "variant": "essential"}}}}]}],
				"sources": {"org.osbuild.curl": {"` + key + `": {"` + base + `": "http://other.invalid/base.deb", "sha256:` + strings.Repeat("c", 64) + `": "http://other.invalid/c"}}}}`
			out, _, err := Pin(context.Background(), []byte(in), "arm64", res)
			if err != nil {
				t.Fatal(err)
			}
			want := `"sources": {"org.osbuild.curl": {"` + key + `": {"` + base + `": "http://other.invalid/base.deb", "sha256:` + strings.Repeat("c", 64) + `": "http://other.invalid/c"}}}`
			if compact := compactJSON(t, out); !strings.Contains(compact, want) {
				t.Errorf("sources not kept as they were:\n%s", compact)
			}
		})
	}
}

func debSum(deb []byte) string {
	sum := sha256.Sum256(deb)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// compactJSON is out as pyjson writes it on one line.
func compactJSON(t *testing.T, out []byte) string {
	t.Helper()
	doc, err := pyjson.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pyjson.Dumps(doc, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
