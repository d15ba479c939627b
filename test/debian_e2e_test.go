//go:build e2e

package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// mmdebstrapDifferences are the paths where a trixie minbase tree of ours
// legitimately differs from mmdebstrap's (README, "Equal to mmdebstrap").
var mmdebstrapDifferences = map[string]string{
	"etc/apt/sources.list":                  "mmdebstrap writes the sources it was given, one-line format",
	"etc/apt/sources.list.d/debian.sources": "ours: org.osbuild.apt.sources writes deb822 with Signed-By",
	"etc/hostname":                          "mmdebstrap copies the host's; a hermetic build has none",
	"etc/resolv.conf":                       "mmdebstrap copies the host's; a hermetic build has none",
}

// TestDebianMatchesMmdebstrap builds trixie minbase with the stock
// manifest and with mmdebstrap (same mirror, same moment, same
// SOURCE_DATE_EPOCH) and compares the trees file by file: type, mode,
// owner, link target, size and content, device numbers, xattrs, mtime.
// arm64 needs qemu-user through binfmt on an amd64 host (as root).
func TestDebianMatchesMmdebstrap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mmdebstrap's reference build needs root")
	}
	mirror, err := archive.ResolveMirror("")
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			if arch != runtime.GOARCH {
				if err := enableBinfmt(arch); err != nil {
					t.Skipf("mmdebstrap for %s needs qemu-user through binfmt: %v", arch, err)
				}
			}
			ref := filepath.Join(t.TempDir(), "mmdebstrap.tar")
			start := time.Now()
			cmd := exec.Command("mmdebstrap", "--variant=minbase", "--arch="+arch, "trixie", ref, "deb "+mirror+" trixie main")
			cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mmdebstrap: %v\n%s", err, out)
			}
			t.Logf("mmdebstrap %s: %.0fs", arch, time.Since(start).Seconds())
			out := t.TempDir()
			start = time.Now()
			r := osbuildVM(context.Background(), t, append(append([]string{"run"}, vmArgs(t, arch)...),
				"--output-directory", out, "--export", "os", trixieMinbase)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			t.Logf("osbuild-vm %s: %.0fs", arch, time.Since(start).Seconds())
			diffs := treeDiff(tarManifest(t, ref), dirManifest(t, filepath.Join(out, "os")), mmdebstrapDifferences)
			for _, d := range diffs {
				t.Error(d)
			}
			t.Logf("%d paths compared, %d differences besides the %d documented ones", len(tarManifest(t, ref)), len(diffs), len(mmdebstrapDifferences))
		})
	}
	noStrayProcesses(t)
}

// enableBinfmt makes arch's binaries run through qemu-user on this host.
func enableBinfmt(arch string) error {
	name := map[string]string{"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}[arch]
	entry := "/proc/sys/fs/binfmt_misc/" + name
	if b, err := os.ReadFile(entry); err == nil && bytes.HasPrefix(b, []byte("enabled")) {
		return nil
	}
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/register"); err != nil {
		if out, err := exec.Command("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc").CombinedOutput(); err != nil {
			return fmt.Errorf("mount binfmt_misc: %v: %s", err, out)
		}
	}
	if out, err := exec.Command("update-binfmts", "--enable", name).CombinedOutput(); err != nil {
		return fmt.Errorf("update-binfmts --enable %s: %v: %s (install qemu-user-static and binfmt-support)", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TestDebianReproducible builds the stock trixie minbase tar twice from
// empty stores, the second time as a plain user (rootless virtiofsd),
// with another time zone, umask 077, another locale and one CPU, and
// requires the same bytes.
func TestDebianReproducible(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the second build runs as a plain user, which root sets up")
	}
	const arch = "arm64"
	outA := t.TempDir()
	r := osbuildVM(context.Background(), t, append(append([]string{"run"}, vmArgs(t, arch)...),
		"--output-directory", outA, "--export", "tar", trixieMinbase)...)
	if r.code != 0 {
		t.Fatalf("first build: exit %d\n%s", r.code, r.stderr)
	}
	uid, gid := vmtest.EnsureRootlessUser(t)
	base := plainUserDir(t)
	kernel := filepath.Join(base, "kernel")
	copyTree(t, kernelDir(t, arch), kernel)
	manifest := filepath.Join(base, "trixie-minbase.json")
	copyTree(t, trixieMinbase, manifest)
	for _, d := range []string{"store", "out"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, base, uid)
	who := plainRun{uid: uid, gid: gid, umask077: true, env: []string{"TZ=Pacific/Chatham", "LC_ALL=fr_FR.UTF-8", "LANG=fr_FR.UTF-8"}}
	code, stderr := runAs(t, base, who, "run", "--arch", arch, "--cpus", "1", "--vm-kernel", kernel, "--store", filepath.Join(base, "store"),
		"--output-directory", filepath.Join(base, "out"), "--export", "tar", manifest)
	if code != 0 {
		t.Fatalf("second build (uid %d): exit %d\n%s", uid, code, stderr)
	}
	a := filepath.Join(outA, "tar", "trixie-minbase.tar")
	b := filepath.Join(base, "out", "tar", "trixie-minbase.tar")
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		for _, d := range treeDiff(tarManifest(t, a), tarManifest(t, b), nil) {
			t.Error(d)
		}
		t.Fatalf("the two builds differ (%d and %d bytes)", len(ba), len(bb))
	}
	t.Logf("both builds: %d bytes, sha256 %s", len(ba), checksum(ba))
	noStrayProcesses(t)
}

// copyTree copies a file or a directory of regular files.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", from, to).CombinedOutput()
	if err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}
