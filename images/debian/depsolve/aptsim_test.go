package depsolve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

// aptSim is apt-get with a throwaway configuration: one source (the
// mirror's suite, main), one architecture, Recommends off, an empty dpkg
// status, none of the host's configuration, as mmdebstrap configures it.
type aptSim struct {
	dir, suite, arch string
	date             string // the Date of the InRelease apt read
}

func newAptSim(t *testing.T, ctx context.Context, mirror, suite, arch string) *aptSim {
	t.Helper()
	a := &aptSim{dir: t.TempDir(), suite: suite, arch: arch}
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "etc/apt/trusted.gpg.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir "%s/";
Dir::State::status "%s/var/lib/dpkg/status";
APT::Architecture "%s";
APT::Architectures "%s";
APT::Install-Recommends "false";
Acquire::Languages "none";
Acquire::GzipIndexes "false";
pkgCacheGen::ForceEssential ",";
Debug::NoLocking "true";
`, a.dir, a.dir, arch, arch)
	a.write(t, "apt.conf", conf)
	a.write(t, "etc/apt/sources.list", fmt.Sprintf("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n", mirror, suite))
	a.write(t, "var/lib/dpkg/status", "")
	a.run(t, ctx, "update")
	a.date = a.releaseDate(t)
	return a
}

func (a *aptSim) write(t *testing.T, rel, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(a.dir, rel), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (a *aptSim) run(t *testing.T, ctx context.Context, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-q", "-y"}, args...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(a.dir, "apt.conf"), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out))
	}
	return out
}

// list returns apt's copy of a file of dists/<suite>/ by its name suffix.
func (a *aptSim) list(t *testing.T, suffix string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(a.dir, "var/lib/apt/lists", "*_dists_"+a.suite+"_"+suffix))
	if len(files) != 1 {
		t.Fatalf("apt's lists hold %d files for %s: %v", len(files), suffix, files)
	}
	return files[0]
}

func (a *aptSim) releaseDate(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(a.list(t, "InRelease"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(line, "Date: "); ok {
			return d
		}
	}
	t.Fatal("apt's InRelease has no Date")
	return ""
}

// twoPhases installs (simulated) the Essential: yes packages, marks them
// installed, then installs packages, apt and the Priority: required
// packages; it returns the union as "name version".
func (a *aptSim) twoPhases(t *testing.T, ctx context.Context, packages []string) []string {
	t.Helper()
	narrow := "?narrow(?or(?archive(^" + a.suite + "$),?codename(^" + a.suite + "$)),?architecture(" + a.arch + "),"
	first := instLines(a.run(t, ctx, "--simulate", "install", narrow+"?essential)"))
	a.markInstalled(t, first)
	args := append(slices.Clone(packages), "apt", narrow+"?and(?priority(required),?not(?essential)))")
	second := instLines(a.run(t, ctx, append([]string{"--simulate", "install"}, args...)...))
	return sorted(slices.Compact(sorted(append(first, second...))))
}

// markInstalled writes the dpkg status of a system that has exactly the
// given "name version" packages, from apt's copy of the Packages index.
func (a *aptSim) markInstalled(t *testing.T, set []string) {
	t.Helper()
	f, err := os.Open(a.list(t, "main_binary-"+a.arch+"_Packages"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ps, err := deb822.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range ps {
		if !slices.Contains(set, p.Value("Package")+" "+p.Value("Version")) {
			continue
		}
		b.WriteString("Status: install ok installed\n")
		for _, fl := range p {
			b.WriteString(fl.Name + ": " + strings.ReplaceAll(fl.Value, "\n", "\n ") + "\n")
		}
		b.WriteString("\n")
	}
	a.write(t, "var/lib/dpkg/status", b.String())
}
