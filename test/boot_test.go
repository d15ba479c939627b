package test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/test/bootcheck"
)

// stockImage builds the stock manifest images/debian/<manifest> for arch
// into a fresh store and returns the exported file <export>/<file>. The
// build's log and the console of any boot go to files under the test's
// directory, named in failures.
func stockImage(t *testing.T, arch, manifest, export, file string, extra ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, arch)...)
	args = append(args, "--memory", "3GiB", "--output-directory", out, "--export", export)
	args = append(append(args, extra...), filepath.Join("..", "images", "debian", manifest))
	start := time.Now()
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("build %s for %s: exit %d\n%s", manifest, arch, r.code, tail(r.stderr, 6000))
	}
	img := filepath.Join(out, export, file)
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s for %s in %v: %s, %d MiB", manifest, arch, time.Since(start).Round(time.Second), file, fi.Size()>>20)
	return img
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// bootToLogin boots img and fails t unless a login prompt shows up.
func bootToLogin(t *testing.T, cfg bootcheck.Config) time.Duration {
	t.Helper()
	console, err := os.Create(filepath.Join(t.TempDir(), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close()
	cfg.Console = console
	res, err := bootcheck.Boot(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v\n(whole console in %s)", err, console.Name())
	}
	t.Logf("%s %s %s: %q after %v", filepath.Base(cfg.Image), cfg.Arch, cfg.Firmware, res.Prompt, res.Elapsed.Round(time.Second))
	return res.Elapsed
}

// TestBootArm64Qcow2 is the headline: the stock manifest builds an arm64
// Debian trixie qcow2 on this (x86_64) machine, which boots under UEFI
// (AAVMF) with no network to a login prompt on its serial console.
func TestBootArm64Qcow2(t *testing.T) {
	img := stockImage(t, "arm64", "trixie-qcow2.json", "qcow2", "disk.qcow2")
	bootToLogin(t, bootcheck.Config{Image: img, Arch: "arm64", Firmware: bootcheck.UEFI})
}
