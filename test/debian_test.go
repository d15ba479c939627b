package test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blakesmith/ar"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

const trixieMinbase = "../images/debian/trixie-minbase.json"

// TestDebianTrixieMinbaseArm64 builds the stock trixie minbase manifest
// for arm64 (the package request resolved against the host's mirror) and
// checks the tree: every package dpkg knows is configured at the pinned
// version, apt's automatic marks are the resolver's, nothing of the
// installation machinery is left, the binaries are aarch64's, mtimes are
// clamped. On the same store a package whose postinst fails then stops
// the build with the script's own words, exit 1, nothing committed.
func TestDebianTrixieMinbaseArm64(t *testing.T) {
	store, out := t.TempDir(), t.TempDir()
	kernel := kernelDir(t, "arm64")
	r := osbuildVM(context.Background(), t, "run", "--arch", "arm64", "--vm-kernel", kernel, "--store", store,
		"--cache-max-size", "unlimited", "--checkpoint", "org.osbuild.deb.install",
		"--output-directory", out, "--export", "os", trixieMinbase)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	tree := filepath.Join(out, "os")
	pins := pinnedPackages(t, filepath.Join(out, "manifest.pinned.json"), store)
	checkConfigured(t, tree, pins)
	checkAutoMarks(t, tree, pins)
	checkNoMachinery(t, tree)
	checkArch(t, filepath.Join(tree, "usr/bin/dpkg"), elf.EM_AARCH64)
	checkClamped(t, tree, time.Unix(1700000000, 0))
	if sources, _ := os.ReadFile(filepath.Join(tree, "etc/apt/sources.list.d/debian.sources")); !bytes.Contains(sources, []byte("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg")) {
		t.Errorf("apt sources = %q", sources)
	}
	t.Run("failing postinst", func(t *testing.T) {
		failingPostinst(t, store, kernel)
	})
	noStrayProcesses(t)
}

// pin is one package of the pinned manifest, with what its control says.
type pin struct {
	name, version string
	auto          bool
}

// pinnedPackages reads the pinned manifest's install references and the
// control fields of each .deb from the store's sources.
func pinnedPackages(t *testing.T, manifest, store string) []pin {
	t.Helper()
	var m struct {
		Pipelines []struct {
			Stages []struct {
				Type   string
				Inputs map[string]struct {
					References json.RawMessage
				}
			}
		}
	}
	type ref struct {
		ID      string `json:"id"`
		Options struct {
			Metadata map[string]bool `json:"metadata"`
		} `json:"options"`
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("mpp-")) {
		t.Errorf("the pinned manifest still holds a directive")
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var out []pin
	for _, s := range m.Pipelines[0].Stages {
		if s.Type != "org.osbuild.deb.install" {
			continue
		}
		var refs []ref
		if err := json.Unmarshal(s.Inputs["packages"].References, &refs); err != nil {
			t.Fatalf("references of the install stage: %v", err)
		}
		for _, ref := range refs {
			f, err := os.Open(filepath.Join(store, "sources/org.osbuild.files", ref.ID))
			if err != nil {
				t.Fatal(err)
			}
			ctl, err := debControl(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pin{ctl.Value("Package"), ctl.Value("Version"), ref.Options.Metadata["deb.auto"]})
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d packages pinned", len(out))
	}
	return out
}

// checkConfigured: dpkg's status holds exactly the pinned packages, each
// "install ok installed" at its version.
func checkConfigured(t *testing.T, tree string, pins []pin) {
	t.Helper()
	paras := readParagraphs(t, filepath.Join(tree, "var/lib/dpkg/status"))
	got := map[string]string{}
	for _, p := range paras {
		if s := p.Value("Status"); s != "install ok installed" {
			t.Errorf("%s: Status %q", p.Value("Package"), s)
		}
		got[p.Value("Package")] = p.Value("Version")
	}
	for _, p := range pins {
		if got[p.name] != p.version {
			t.Errorf("%s: dpkg has %q, pinned %q", p.name, got[p.name], p.version)
		}
	}
	if len(got) != len(pins) {
		t.Errorf("dpkg knows %d packages, %d were pinned", len(got), len(pins))
	}
}

// checkAutoMarks: apt's extended_states marks exactly the packages the
// resolver said apt would mark.
func checkAutoMarks(t *testing.T, tree string, pins []pin) {
	t.Helper()
	var want, got []string
	for _, p := range pins {
		if p.auto {
			want = append(want, p.name)
		}
	}
	for _, p := range readParagraphs(t, filepath.Join(tree, "var/lib/apt/extended_states")) {
		if p.Value("Auto-Installed") == "1" {
			got = append(got, p.Value("Package"))
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") || len(want) == 0 {
		t.Errorf("automatically installed: %v, want %v", got, want)
	}
}

// checkNoMachinery: what the install and clean-up stages put in place
// while they work is gone.
func checkNoMachinery(t *testing.T, tree string) {
	t.Helper()
	for _, p := range []string{"usr/sbin/policy-rc.d", "usr/sbin/start-stop-daemon.REAL", "var/lib/dpkg/tmp.ci",
		"var/lib/dpkg/osbuild-vm-unpacked", "tmp/osbuild-vm-debs", "var/log/dpkg.log", "var/cache/ldconfig/aux-cache"} {
		if _, err := os.Lstat(filepath.Join(tree, p)); err == nil {
			t.Errorf("/%s is left in the tree", p)
		}
	}
	ssd, err := os.ReadFile(filepath.Join(tree, "usr/sbin/start-stop-daemon"))
	if err != nil || bytes.HasPrefix(ssd, []byte("#!")) {
		t.Errorf("start-stop-daemon is not dpkg's program again (%v)", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(tree, "tmp"))
	if len(tmp) != 0 {
		t.Errorf("/tmp holds %d entries", len(tmp))
	}
}

func checkArch(t *testing.T, path string, want elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != want {
		t.Errorf("%s is for %v, want %v", path, f.Machine, want)
	}
}

func checkClamped(t *testing.T, tree string, epoch time.Time) {
	t.Helper()
	n := 0
	filepath.Walk(tree, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.ModTime().After(epoch) {
			n++
			if n < 5 {
				t.Errorf("%s: mtime %v after source-epoch", p, fi.ModTime())
			}
		}
		return nil
	})
}

func readParagraphs(t *testing.T, path string) []deb822.Paragraph {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paras, err := deb822.ReadAll(bufio.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return paras
}

// failingPostinst installs, on the minbase tree checkpointed in store, a
// package whose postinst fails: exit 1, the script's output and dpkg's
// verdict shown, the failed stage not committed, no VM left.
func failingPostinst(t *testing.T, store, kernel string) {
	deb := buildDeb(t, "Package: failpkg\nVersion: 1\nArchitecture: all\nMaintainer: test <t@invalid>\nDescription: fails\n",
		"#!/bin/sh\necho 'failpkg: the configuration went wrong' >&2\nexit 3\n")
	sum := checksum(deb)
	manifest := map[string]any{
		"version": "2",
		"pipelines": []any{map[string]any{
			"name": "os", "source-epoch": 1700000000,
			"stages": []any{
				map[string]any{"type": "org.osbuild.deb.install", "inputs": map[string]any{"packages": map[string]any{
					"type": "org.osbuild.files", "origin": "org.osbuild.source",
					"mpp-depsolve-deb": map[string]any{"suite": "trixie", "components": []string{"main"}, "variant": "minbase"}}}},
				map[string]any{"type": "org.osbuild.deb.install", "inputs": map[string]any{"packages": map[string]any{
					"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []string{sum}}}},
			}}},
		"sources": map[string]any{"org.osbuild.inline": map[string]any{"items": map[string]any{
			sum: map[string]any{"encoding": "base64", "data": base64.StdEncoding.EncodeToString(deb)}}}},
	}
	before, _ := os.ReadDir(filepath.Join(store, "objects"))
	r := osbuildVM(context.Background(), t, "run", "--arch", "arm64", "--vm-kernel", kernel, "--store", store,
		"--cache-max-size", "unlimited", "--checkpoint", "org.osbuild.deb.install",
		"--output-directory", t.TempDir(), "--export", "os", writeJSON(t, "fail.json", manifest))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"failpkg: the configuration went wrong", "returned error exit status 3", "stage org.osbuild.deb.install"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stderr)
		}
	}
	after, _ := os.ReadDir(filepath.Join(store, "objects"))
	if len(after) != len(before) {
		t.Errorf("objects before %d, after %d: the failed stage was committed", len(before), len(after))
	}
	if left := storeLeftovers(t, store); len(left) > 0 {
		t.Errorf("store leftovers: %v", left)
	}
}

// buildDeb makes a .deb of an empty data archive with a control file and
// a postinst.
func buildDeb(t *testing.T, control, postinst string) []byte {
	t.Helper()
	ctl := tarOf(t, map[string]string{"./control": control, "./postinst": postinst})
	data := tarOf(t, map[string]string{})
	var buf bytes.Buffer
	w := ar.NewWriter(&buf)
	w.WriteGlobalHeader()
	for _, m := range [][2]string{{"debian-binary", "2.0\n"}, {"control.tar", string(ctl)}, {"data.tar", string(data)}} {
		w.WriteHeader(&ar.Header{Name: m[0], Size: int64(len(m[1])), Mode: 0o644, ModTime: time.Unix(0, 0)})
		w.Write([]byte(m[1]))
	}
	return buf.Bytes()
}

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	return buf.Bytes()
}

func checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// debControl reads a .deb's control paragraph.
func debControl(r io.Reader) (deb822.Paragraph, error) {
	c, err := debfile.ReadControl(bufio.NewReader(r))
	if err != nil {
		return nil, err
	}
	return c.Fields, nil
}
