// Package vmtest gives tests what they need to boot a real build VM: a
// kernel fetched once into a shared cache, the guest binary compiled from
// this module's source, and a skip (with the reason) only when QEMU is not
// installed.
//
// The cache is $OSBUILD_VM_TEST_CACHE, else os.UserCacheDir()/osbuild-vm-test;
// it is an osbuild-vm store, so the kernel downloads once per machine.
package vmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

var buildMu sync.Mutex

// GuestBinary compiles guest/cmd/osbuild-guest for arch (static, as the
// release build does) and returns it; Go's build cache makes repeated
// calls cheap. It stands in for host/guestbin in tests, so that they run
// from a plain checkout without a prior make.
func GuestBinary(ctx context.Context, arch string) ([]byte, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp("", "osbuild-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	bin := filepath.Join(out, "osbuild-guest")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./guest/cmd/osbuild-guest")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build guest binary for %s: %w: %s", arch, err, msg)
	}
	return os.ReadFile(bin)
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside the osbuild-vm module")
	}
	return filepath.Dir(mod), nil
}

// Boot returns a kernel (downloaded once into CacheDir) and an initramfs
// with the guest binary built from source, for arch. It skips only when
// QEMU is absent; anything else failing fails the test.
func Boot(t testing.TB, arch string) *kernels.Boot {
	t.Helper()
	RequireQEMU(t, arch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := kernels.Prepare(ctx, kernels.Options{StoreDir: CacheDir(t), Arch: arch, GuestBinary: GuestBinary})
	if err != nil {
		t.Fatalf("prepare boot files for %s: %v", arch, err)
	}
	return b
}
