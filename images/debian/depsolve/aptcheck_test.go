package depsolve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The synthetic cases are checked against apt itself: every universe the
// tests build is also written as a local repository, and apt-get --simulate
// (with a throwaway configuration, in mmdebstrap's two steps for the
// variants) must install the same packages, or fail where Resolve fails.

// published remembers the entries each test universe was built from.
var published sync.Map // *Universe -> []entry

// aptResult is what apt-get --simulate made of a request: the package set,
// or ok=false when apt refused it.
type aptResult struct {
	set []string
	ok  bool
	out string
}

// aptResolve runs the request through apt-get against a local repository
// holding entries.
func aptResolve(t *testing.T, u *Universe, req Request) (aptResult, bool) {
	t.Helper()
	v, found := published.Load(u)
	if !found {
		return aptResult{}, false
	}
	entries := v.([]entry)
	switch {
	case !slices.Contains([]Variant{"", VariantNone, VariantEssential, VariantMinbase}, req.Variant):
		return aptResult{}, false // a mistake only we can make
	case req.Variant != "" && req.Variant != VariantNone && len(req.Exclude) > 0:
		return aptResult{}, false // apt-get cannot leave out an essential package
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Fatalf("apt-get is needed to check the synthetic cases against apt: %v", err)
	}
	r := newLocalApt(t, entries)
	var excl []string
	for _, x := range req.Exclude {
		excl = append(excl, x+"-")
	}
	var first []string
	if req.Variant == VariantEssential || req.Variant == VariantMinbase {
		res := r.install(t, "?essential")
		if !res.ok {
			return res, true
		}
		first = res.set
		r.markInstalled(t, entries, first)
	}
	args := append(slices.Clone(req.Packages), excl...)
	if req.Variant == VariantMinbase {
		if slices.ContainsFunc(entries, func(e entry) bool { return e.name == "apt" }) {
			args = append(args, "apt")
		}
		args = append(args, "?and(?priority(required),?not(?essential))")
	}
	second := aptResult{ok: true}
	if len(args) > 0 {
		second = r.install(t, args...)
	}
	second.set = sorted(slices.Compact(sorted(append(first, second.set...))))
	return second, true
}

// localApt is apt-get over a local, trusted repository.
type localApt struct{ dir string }

func newLocalApt(t *testing.T, entries []entry) *localApt {
	t.Helper()
	r := &localApt{dir: t.TempDir()}
	for _, d := range []string{"repo", "etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var idx strings.Builder
	for _, e := range entries {
		idx.WriteString(paragraph(e) + "\n")
	}
	r.write(t, "repo/Packages", idx.String())
	r.write(t, "etc/apt/sources.list", "deb [trusted=yes] file:"+filepath.Join(r.dir, "repo")+" ./\n")
	r.write(t, "var/lib/dpkg/status", "")
	r.write(t, "apt.conf", fmt.Sprintf("Dir %q;\nDir::State::status %q;\nAPT::Architecture \"amd64\";\nAPT::Architectures \"amd64\";\n"+
		"APT::Install-Recommends \"false\";\nAcquire::Languages \"none\";\npkgCacheGen::ForceEssential \",\";\nDebug::NoLocking \"true\";\n",
		r.dir+"/", filepath.Join(r.dir, "var/lib/dpkg/status")))
	if res := r.apt(t, "update"); !res.ok {
		t.Fatalf("apt-get update: %s", res.out)
	}
	return r
}

// paragraph is an entry's Packages paragraph.
func paragraph(e entry) string {
	s := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", e.name, e.version, e.arch)
	for _, f := range e.fields {
		s += f + "\n"
	}
	return s + fmt.Sprintf("Filename: pool/%s_%s.deb\nSize: 1\nSHA256: %s\n", e.name, strings.ReplaceAll(e.version, ":", "_"), strings.Repeat("0", 64))
}

func (r *localApt) write(t *testing.T, rel, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, rel), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *localApt) apt(t *testing.T, args ...string) aptResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-q", "-y"}, args...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(r.dir, "apt.conf"), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return aptResult{set: instLines(out), ok: err == nil && !bytes.Contains(out, []byte("\nE: ")), out: string(out)}
}

func (r *localApt) install(t *testing.T, args ...string) aptResult {
	t.Helper()
	return r.apt(t, append([]string{"--simulate", "install"}, args...)...)
}

// markInstalled writes a dpkg status holding exactly the given packages.
func (r *localApt) markInstalled(t *testing.T, entries []entry, set []string) {
	t.Helper()
	var b strings.Builder
	for _, e := range entries {
		if slices.Contains(set, e.name+" "+e.version) {
			b.WriteString("Status: install ok installed\n" + paragraph(e) + "\n")
		}
	}
	r.write(t, "var/lib/dpkg/status", b.String())
}
