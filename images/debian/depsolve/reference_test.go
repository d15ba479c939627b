package depsolve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// The reference comparison: resolutions of the live Debian archive (the
// mirror of the machine's apt configuration) against what tools no one
// here wrote compute in the same test from the same mirror:
//
//   - minbase: `mmdebstrap --simulate --variant=minbase` (the union of its
//     Inst lines is its package set);
//   - a larger request: apt-get --simulate install in two phases as
//     mmdebstrap runs apt for real (the Essential: yes packages, then the
//     rest with those marked installed in a throwaway dpkg status).
//     mmdebstrap --simulate cannot serve here: it simulates the second
//     phase on an empty system, where apt also installs lsb-base for
//     openssh-server although the essential sysvinit-utils provides it
//     (a real mmdebstrap run installs the same 147 packages as we do).
//
// Names and versions must be equal. CI runs it (it needs the network, root
// for mmdebstrap, and mmdebstrap from test/deps.sh); -short skips it.

// bigRequest is the larger request per architecture.
var bigRequest = map[string][]string{
	"arm64": {"systemd", "systemd-sysv", "udev", "linux-image-cloud-arm64", "grub-efi-arm64", "e2fsprogs", "dosfstools", "openssh-server", "initramfs-tools", "ifupdown"},
	"amd64": {"systemd", "systemd-sysv", "udev", "linux-image-cloud-amd64", "grub-pc", "grub-efi-amd64-bin", "e2fsprogs", "dosfstools", "openssh-server", "initramfs-tools", "ifupdown"},
}

func TestAgainstAptAndMmdebstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not using the real Debian archive")
	}
	mirror, err := archive.ResolveMirror("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"apt-get", "mmdebstrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to compute the reference: install it (test/deps.sh does)", tool)
		}
	}
	for _, suite := range []string{"trixie", "bookworm"} {
		for _, arch := range []string{"arm64", "amd64"} {
			t.Run(suite+"/"+arch, func(t *testing.T) {
				t.Parallel()
				compareWithReferences(t, mirror, suite, arch)
			})
		}
	}
}

func compareWithReferences(t *testing.T, mirror, suite, arch string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	apt := newAptSim(t, ctx, mirror, suite, arch)
	a := &archive.Archive{Mirror: mirror, Suite: suite, Cache: &archive.IndexCache{Dir: filepath.Join(testCacheDir(t), archive.StoreDir)}}
	rel, err := a.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if apt.date != rel.Date.UTC().Format(time.RFC1123) {
		t.Fatalf("apt read the InRelease of %s, we read that of %s: the archive changed during the test; run it again", apt.date, rel.Date)
	}
	u, err := Load(ctx, a, []string{"main"}, arch)
	if err != nil {
		t.Fatal(err)
	}
	minbase := resolvedSet(t, u, Request{Variant: VariantMinbase})
	compareSets(t, "minbase vs mmdebstrap --simulate", mmdebstrapSimulate(t, ctx, mirror, suite, arch), minbase)
	big := resolvedSet(t, u, Request{Variant: VariantMinbase, Packages: bigRequest[arch]})
	compareSets(t, "minbase + "+strings.Join(bigRequest[arch], " ")+" vs apt-get in two phases", apt.twoPhases(t, ctx, bigRequest[arch]), big)
}

func resolvedSet(t *testing.T, u *Universe, req Request) []string {
	t.Helper()
	r, err := u.Resolve(req)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range r.Packages {
		out = append(out, p.Package+" "+p.Version)
	}
	return sorted(out)
}

func compareSets(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) < 50 {
		t.Fatalf("%s: the reference has only %d packages: %v", what, len(want), want)
	}
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s: %d packages; missing %v, extra %v", what, len(got), missing, extra)
		return
	}
	t.Logf("%s: the same %d packages", what, len(got))
}

// mmdebstrapSimulate returns the union of `mmdebstrap --simulate`'s Inst
// lines as "name version".
func mmdebstrapSimulate(t *testing.T, ctx context.Context, mirror, suite, arch string) []string {
	t.Helper()
	// --skip=check/qemu: nothing runs, so a foreign architecture needs no
	// qemu-user binfmt on the machine.
	cmd := exec.CommandContext(ctx, "mmdebstrap", "--simulate", "--verbose", "--variant=minbase", "--arch="+arch,
		"--skip=check/qemu", suite, "/dev/null", "deb "+mirror+" "+suite+" main")
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, tail(out))
	}
	return instLines(out)
}

// instLines reads apt's "Inst name (version ...)" simulation lines.
func instLines(out []byte) []string {
	var set []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "Inst" {
			continue
		}
		v := f[2]
		if strings.HasPrefix(v, "[") && len(f) > 3 { // "Inst name [old] (new ...)"
			v = f[3]
		}
		if s := f[1] + " " + strings.TrimPrefix(v, "("); !slices.Contains(set, s) {
			set = append(set, s)
		}
	}
	return sorted(set)
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// testCacheDir is shared by test runs so the indices download once:
// $OSBUILD_VM_TEST_CACHE, else <user cache dir>/osbuild-vm-test.
func testCacheDir(t *testing.T) string {
	if d := os.Getenv("OSBUILD_VM_TEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache dir: %v; set OSBUILD_VM_TEST_CACHE", err)
	}
	return filepath.Join(d, "osbuild-vm-test")
}
