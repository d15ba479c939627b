package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
	"github.com/osbuild-vm/osbuild-vm/test/bootcheck"
)

// BenchmarkStockQcow2 measures the stock qcow2 (images/debian/
// trixie-qcow2.json) end to end for each architecture: a build from an
// empty store (every .deb downloaded), a build from a store that has only
// the sources, the image's size, and the boot from QEMU's start to the
// login prompt (arm64 UEFI; amd64 BIOS). One build each, whatever b.N:
// each takes many minutes under TCG.
func BenchmarkStockQcow2(b *testing.B) {
	for _, arch := range []string{"arm64", "amd64"} {
		b.Run(arch, func(b *testing.B) {
			cold, warm, size, boot := benchQcow2(b, arch)
			b.ReportMetric(cold.Seconds(), "s-cold")
			b.ReportMetric(warm.Seconds(), "s-sources-cached")
			b.ReportMetric(float64(size)/(1<<20), "MiB-qcow2")
			b.ReportMetric(boot.Seconds(), "s-boot-to-login")
		})
	}
}

func benchQcow2(b *testing.B, arch string) (cold, warm time.Duration, size int64, boot time.Duration) {
	manifest := filepath.Join("..", "images", "debian", "trixie-qcow2.json")
	build := func(store string) (time.Duration, string) {
		out := b.TempDir()
		start := time.Now()
		var stdout, stderr syncBuffer
		err := runCLI(context.Background(), &stdout, &stderr, "run", "--arch", arch, "--vm-kernel", vmtest.Boot(b, arch).Kernel.Dir,
			"--store", store, "--memory", "3GiB", "--output-directory", out, "--export", "qcow2", manifest)
		if err != nil {
			b.Fatalf("build %s: %v\n%s", arch, err, tail(stderr.String(), 4000))
		}
		return time.Since(start), filepath.Join(out, "qcow2", "disk.qcow2")
	}
	first := b.TempDir()
	cold, img := build(first)
	second := b.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(first, "sources"), second).CombinedOutput(); err != nil {
		b.Fatalf("seed the second store's sources: %v %s", err, out)
	}
	warm, _ = build(second)
	fi, err := os.Stat(img)
	if err != nil {
		b.Fatal(err)
	}
	fw := bootcheck.UEFI
	if arch == "amd64" {
		fw = bootcheck.BIOS
	}
	res, err := bootcheck.Boot(context.Background(), bootcheck.Config{Image: img, Arch: arch, Firmware: fw})
	if err != nil {
		b.Fatal(err)
	}
	return cold, warm, fi.Size(), res.Elapsed
}
