package debian

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/kmod"
)

const fakeVersion = "6.1.0-9-cloud-amd64"

// fakeModules is a bookworm-like module set: name -> depends.
var fakeModules = map[string][]string{
	"virtio": nil, "virtio_ring": {"virtio"},
	"virtio_pci_legacy_dev": nil, "virtio_pci_modern_dev": nil,
	"virtio_pci":  {"virtio_pci_modern_dev", "virtio_ring", "virtio", "virtio_pci_legacy_dev"},
	"virtio_mmio": {"virtio", "virtio_ring"}, "virtio_console": {"virtio", "virtio_ring"},
	"fuse": nil, "virtiofs": {"fuse", "virtio", "virtio_ring"}, "virtio_blk": {"virtio", "virtio_ring"},
	"vsock": nil, "vmw_vsock_virtio_transport_common": {"vsock"},
	"vmw_vsock_virtio_transport": {"vmw_vsock_virtio_transport_common", "virtio", "virtio_ring", "vsock"},
	"loop":                       nil, "squashfs": nil, "unrelated": nil,
	"fat": nil, "vfat": {"fat"}, "nls_cp437": nil, "nls_ascii": nil, "nls_utf8": nil,
}

// wantOrder is the load order VMKernel must produce for fakeModules, with
// overlay built in.
var wantOrder = []string{"virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
	"virtio_mmio", "virtio_console", "fuse", "virtiofs", "virtio_blk", "vsock", "vmw_vsock_virtio_transport_common",
	"vmw_vsock_virtio_transport", "loop", "squashfs", "fat", "vfat", "nls_cp437", "nls_ascii", "nls_utf8"}

// kernelFiles is the data.tar of a fake kernel package; vsock modules are
// xz-compressed as in newer kernels, and overlay is built in.
func kernelFiles(t *testing.T, vmlinuz []byte) map[string][]byte {
	files := map[string][]byte{
		"./boot/vmlinuz-" + fakeVersion:                     vmlinuz,
		"./boot/config-" + fakeVersion:                      []byte("CONFIG_OVERLAY_FS=y\n"),
		"./lib/modules/" + fakeVersion + "/modules.builtin": []byte("kernel/fs/overlayfs/overlay.ko\nkernel/fs/ext4/ext4.ko\n"),
	}
	for name, deps := range fakeModules {
		mod := fakearchive.Module(name, deps...)
		p := "./lib/modules/" + fakeVersion + "/kernel/drivers/" + strings.ReplaceAll(name, "_", "-") + ".ko"
		if strings.Contains(name, "vsock") {
			mod, p = xzBytes(t, mod), p+".xz"
		}
		files[p] = mod
	}
	return files
}

func xzBytes(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// publishKernel serves a suite whose linux-image-cloud-<arch> depends on a
// kernel package built from files.
func publishKernel(t *testing.T, arch string, files map[string][]byte) (*fakearchive.Archive, KernelOptions) {
	fa := fakearchive.New(t, "bookworm")
	real := "linux-image-6.1.0-9-cloud-" + arch
	fa.AddDeb(arch, real, "6.1.27-1", fakearchive.BuildDeb(t, files))
	fa.AddDeb(arch, "linux-image-6.1.0-8-cloud-"+arch, "6.1.25-1", []byte("older kernel, never fetched"))
	fa.AddDeb(arch, "linux-image-cloud-"+arch, "6.1.27-1", []byte("meta"), "Depends: "+real+" (= 6.1.27-1)")
	fa.AddDeb(arch, "linux-image-cloud-"+arch, "6.1.25-1", []byte("meta"), "Depends: linux-image-6.1.0-8-cloud-"+arch+" (= 6.1.25-1)")
	fa.Publish(t)
	return fa, KernelOptions{
		StoreDir: t.TempDir(), Mirror: fa.URL(), Arch: arch, Keyring: fa.Keyring, Client: fa.Server.Client(),
		Now: func() time.Time { return fakearchive.Date.Add(time.Hour) },
	}
}

func TestVMKernel(t *testing.T) {
	fa, opts := publishKernel(t, "amd64", kernelFiles(t, []byte("bzImage")))
	ctx := context.Background()
	k, err := VMKernel(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if k.Package != "linux-image-6.1.0-9-cloud-amd64" || k.Version != fakeVersion || k.PackageVersion != "6.1.27-1" {
		t.Errorf("kernel = %+v", k)
	}
	if want := filepath.Join(opts.StoreDir, "vm-kernels", k.SHA256); k.Dir != want || k.Image != filepath.Join(want, "vmlinuz") {
		t.Errorf("Dir, Image = %s, %s; want under %s", k.Dir, k.Image, want)
	}
	if data, _ := os.ReadFile(k.Image); string(data) != "bzImage" {
		t.Errorf("image holds %q", data)
	}
	var names []string
	for _, m := range k.Modules {
		names = append(names, m.Name)
		assertPlainModule(t, m)
	}
	if diff := cmp.Diff(wantOrder, names); diff != "" {
		t.Errorf("module order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"overlay"}, k.Builtin); diff != "" {
		t.Errorf("builtin (-want +got):\n%s", diff)
	}

	before := fa.Requests()
	again, err := VMKernel(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := fa.Requests() - before; n != 0 {
		t.Errorf("cached VMKernel made %d requests, want 0", n)
	}
	if diff := cmp.Diff(k, again); diff != "" {
		t.Errorf("cached kernel differs (-first +second):\n%s", diff)
	}
	opts.Refresh = true
	if _, err := VMKernel(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if n := fa.Requests() - before; n != 2 {
		t.Errorf("Refresh made %d requests, want 2 (InRelease, Packages; the .deb is cached)", n)
	}
}

// TestVMKernelStaleCache: a kernel cached by an older osbuild-vm, which
// extracted fewer modules than NeededModules now lists, is extracted again
// instead of booting a guest that lacks them.
func TestVMKernelStaleCache(t *testing.T) {
	_, opts := publishKernel(t, "amd64", kernelFiles(t, []byte("bzImage")))
	ctx := context.Background()
	k, err := VMKernel(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(k.Dir, "kernel.json")
	data, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	json.Unmarshal(data, &old)
	mods := old["modules"].([]any)
	old["modules"] = mods[:len(mods)-1] // as if nls_utf8 had not been needed then
	data, _ = json.Marshal(old)
	if err := os.WriteFile(meta, data, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := VMKernel(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Modules) != len(k.Modules) || again.Modules[len(k.Modules)-1].Name != "nls_utf8" {
		t.Fatalf("stale cache was used: %d modules, want %d", len(again.Modules), len(k.Modules))
	}
}

// assertPlainModule checks a cached module is an uncompressed .ko whose
// modinfo names it.
func assertPlainModule(t *testing.T, m Module) {
	t.Helper()
	f, err := os.Open(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := kmod.ReadInfo(f)
	if err != nil || info.Name != m.Name || !strings.HasSuffix(m.Path, "/modules/"+m.Name+".ko") {
		t.Errorf("module %s at %s: modinfo %+v, %v", m.Name, m.Path, info, err)
	}
}

func TestVMKernelArm64DecompressesImage(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("raw arm64 Image"))
	w.Close()
	_, opts := publishKernel(t, "arm64", kernelFiles(t, gz.Bytes()))
	k, err := VMKernel(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(k.Image) != "Image" {
		t.Fatalf("Image = %s, want the decompressed Image", k.Image)
	}
	if data, _ := os.ReadFile(k.Image); string(data) != "raw arm64 Image" {
		t.Errorf("Image holds %q", data)
	}
}

func TestVMKernelFailuresCacheNothing(t *testing.T) {
	noVsock := kernelFiles(t, []byte("bzImage"))
	for p := range noVsock {
		if strings.Contains(p, "vsock") {
			delete(noVsock, p)
		}
	}
	tests := []struct {
		name   string
		files  map[string][]byte
		tamper func(t *testing.T, fa *fakearchive.Archive, opts *KernelOptions)
		want   error
	}{
		{"bad signature", nil, func(t *testing.T, fa *fakearchive.Archive, opts *KernelOptions) {
			opts.Keyring = openpgp.EntityList{fakearchive.NewKey(t)}
		}, ErrBadSignature},
		{"tampered deb", nil, func(t *testing.T, fa *fakearchive.Archive, opts *KernelOptions) {
			fa.Set("pool/main/l/linux-image-6.1.0-9-cloud-amd64/linux-image-6.1.0-9-cloud-amd64_6.1.27-1_amd64.deb", []byte("evil"))
		}, ErrDigestMismatch},
		{"module missing", noVsock, nil, ErrModuleMissing},
		{"wrong arch", nil, func(t *testing.T, fa *fakearchive.Archive, opts *KernelOptions) { opts.Arch = "riscv64" }, ErrUnsupportedArch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = kernelFiles(t, []byte("bzImage"))
			}
			fa, opts := publishKernel(t, "amd64", files)
			if tt.tamper != nil {
				tt.tamper(t, fa, &opts)
			}
			if _, err := VMKernel(context.Background(), opts); !errors.Is(err, tt.want) {
				t.Fatalf("VMKernel error = %v, want %v", err, tt.want)
			}
			entries, _ := os.ReadDir(filepath.Join(opts.StoreDir, "vm-kernels"))
			if len(entries) != 0 {
				t.Errorf("failed VMKernel left %d entries in the cache", len(entries))
			}
		})
	}
}
