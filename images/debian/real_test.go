package debian

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/kmod"
)

// testCacheDir is shared by test runs so the real kernels download once:
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

// realMirror is the mirror from apt's configuration (or the environment).
// CI reaches it, so not finding one fails rather than skips.
func realMirror(t *testing.T) string {
	if testing.Short() {
		t.Skip("-short: not using the real Debian archive")
	}
	m, err := archive.ResolveMirror("")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestRealVMKernel(t *testing.T) {
	mirror := realMirror(t)
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			k, err := VMKernel(ctx, KernelOptions{StoreDir: testCacheDir(t), Mirror: mirror, Arch: arch, Log: testLog{t}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: %s, %d modules, built in: %v", k.Package, k.PackageVersion, k.Image, len(k.Modules), k.Builtin)
			if !strings.HasPrefix(k.Package, "linux-image-") || !strings.HasSuffix(k.Package, "-cloud-"+arch) {
				t.Errorf("package %q is not a cloud kernel for %s", k.Package, arch)
			}
			if fi, err := os.Stat(k.Image); err != nil || fi.Size() < 1<<20 {
				t.Errorf("image %s: %v", k.Image, err)
			}
			assertRealModules(t, k)
		})
	}
}

// assertRealModules checks every needed module is loaded or built in and
// each module comes after the dependencies its modinfo names.
func assertRealModules(t *testing.T, k *Kernel) {
	t.Helper()
	have := map[string]bool{}
	for _, b := range k.Builtin {
		have[b] = true
	}
	for _, m := range k.Modules {
		f, err := os.Open(m.Path)
		if err != nil {
			t.Fatal(err)
		}
		info, err := kmod.ReadInfo(f)
		f.Close()
		if err != nil {
			t.Fatalf("module %s: %v", m.Name, err)
		}
		for _, d := range info.Depends {
			if !have[d] {
				t.Errorf("module %s loads before its dependency %s", m.Name, d)
			}
		}
		have[m.Name] = true
	}
	for _, n := range NeededModules {
		if !have[n] {
			t.Errorf("needed module %s neither loaded nor built in", n)
		}
	}
}

func TestRealResolveBusybox(t *testing.T) {
	mirror := realMirror(t)
	keys, err := archive.EmbeddedKeyring()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := &archive.Archive{Mirror: mirror, Suite: DefaultSuite, Keyring: keys}
	p, err := a.ResolvePackage(ctx, "amd64", "busybox-static")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("busybox-static %s: %s sha256:%s %d bytes", p.Version, p.URL, p.SHA256, p.Size)
	if !strings.HasPrefix(p.URL, mirror+"/pool/") || !strings.HasSuffix(p.URL, "_amd64.deb") || !archive.ValidSHA256(p.SHA256) || p.Size <= 0 {
		t.Errorf("resolved %+v", p)
	}
}
