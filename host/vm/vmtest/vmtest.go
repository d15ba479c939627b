// Package vmtest gives tests what they need to boot a real build VM: a
// kernel fetched once into a shared cache, the guest binary from
// host/guestbin (embedded, or built from this module's source), and a skip
// (with the reason) only when QEMU is not installed.
//
// The cache is $OSBUILD_VM_TEST_CACHE, else os.UserCacheDir()/osbuild-vm-test;
// it is an osbuild-vm store, so the kernel downloads once per machine.
package vmtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/guestbin"
	"github.com/osbuild-vm/osbuild-vm/host/kernels"
	"github.com/osbuild-vm/osbuild-vm/host/qemu"
)

// CacheEnv names the test cache directory.
const CacheEnv = "OSBUILD_VM_TEST_CACHE"

// RequireQEMU skips t, saying why, when arch's QEMU or virtiofsd is absent;
// nothing else is a reason to skip a VM test.
func RequireQEMU(t testing.TB, arch string) {
	t.Helper()
	bin, err := qemu.Binary(arch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Skipf("SKIP: %s not installed (Debian packages qemu-system-x86 / qemu-system-arm)", bin)
	}
}

// CacheDir is the shared test store, created if needed.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(CacheEnv)
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("test cache: %v; set %s", err, CacheEnv)
		}
		dir = filepath.Join(base, "osbuild-vm-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("test cache: %v", err)
	}
	return dir
}

// Boot returns a kernel (downloaded once into CacheDir) and an initramfs
// with the guest binary from host/guestbin, for arch. It skips only when
// QEMU is absent; anything else failing fails the test.
func Boot(t testing.TB, arch string) *kernels.Boot {
	t.Helper()
	RequireQEMU(t, arch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := kernels.Prepare(ctx, kernels.Options{StoreDir: CacheDir(t), Arch: arch, GuestBinary: guestbin.Binary})
	if err != nil {
		t.Fatalf("prepare boot files for %s: %v", arch, err)
	}
	return b
}
