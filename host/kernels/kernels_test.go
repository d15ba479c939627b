package kernels

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/initramfs"
)

// fakeKernelDir is a --vm-kernel directory with an image and no modules
// (everything taken as built in).
func fakeKernelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmlinuz-6.1.0-test-cloud-amd64"), []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func guest(content string) GuestBinaryFunc {
	return func(ctx context.Context, arch string) ([]byte, error) { return []byte(content + arch), nil }
}

func TestPrepareCachesInitrd(t *testing.T) {
	store, kdir := t.TempDir(), fakeKernelDir(t)
	ctx := context.Background()
	o := Options{StoreDir: store, Arch: "amd64", KernelDir: kdir, GuestBinary: guest("agent-v1-")}
	first, err := Prepare(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if first.InitrdCached {
		t.Error("first Prepare reports a cached initramfs")
	}
	if filepath.Dir(first.Initrd) != filepath.Join(store, "vm-initramfs") {
		t.Errorf("initrd %s not in the store", first.Initrd)
	}
	archive, err := os.ReadFile(first.Initrd)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := initramfs.List(archive, true)
	if err != nil {
		t.Fatal(err)
	}
	if !hasInit(entries, "agent-v1-amd64") {
		t.Errorf("initramfs has no /init with the guest binary: %+v", entries)
	}
	again, err := Prepare(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !again.InitrdCached || again.Initrd != first.Initrd {
		t.Errorf("second Prepare = %s cached %v, want %s cached", again.Initrd, again.InitrdCached, first.Initrd)
	}
	o.GuestBinary = guest("agent-v2-")
	other, err := Prepare(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if other.InitrdCached || other.Initrd == first.Initrd {
		t.Errorf("a new guest binary reused %s", other.Initrd)
	}
	leftovers, _ := filepath.Glob(filepath.Join(store, "vm-initramfs", ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func hasInit(entries []initramfs.Entry, want string) bool {
	for _, e := range entries {
		if e.Name == "init" && string(e.Data) == want {
			return true
		}
	}
	return false
}

func TestPrepareErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"no guest binary", Options{StoreDir: t.TempDir(), Arch: "amd64", KernelDir: fakeKernelDir(t)}, nil},
		{"guest binary fails", Options{StoreDir: t.TempDir(), Arch: "amd64", KernelDir: fakeKernelDir(t),
			GuestBinary: func(context.Context, string) ([]byte, error) { return nil, boom }}, ErrGuestBinary},
		{"empty kernel dir", Options{StoreDir: t.TempDir(), Arch: "amd64", KernelDir: t.TempDir(), GuestBinary: guest("x")}, ErrKernel},
		{"bad arch", Options{StoreDir: t.TempDir(), Arch: "s390x", KernelDir: fakeKernelDir(t), GuestBinary: guest("x")}, ErrKernel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(context.Background(), tt.o)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Prepare = %v, want %v", err, tt.want)
			}
		})
	}
}
