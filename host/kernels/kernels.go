// Package kernels gathers what the build VM boots: the kernel (from the
// Debian archive via images/debian, or a user's --vm-kernel directory) and
// an initramfs holding the guest binary and the kernel's modules.
//
// The initramfs is cached content-addressed in the store, keyed by the
// sha256 of everything that goes into it (guest binary, module names and
// bytes, epoch), so a second run with the same inputs reuses the file:
//
//	<store>/vm-initramfs/<sha256>.cpio
package kernels

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian"
	"github.com/osbuild-vm/osbuild-vm/initramfs"
)

// Epoch is the initramfs entries' mtime: fixed, so the archive depends on
// its inputs only.
const Epoch = 0

// Error classes callers give different advice for.
var (
	// ErrKernel: the kernel could not be fetched or loaded.
	ErrKernel = errors.New("vm kernel unavailable")
	// ErrGuestBinary: the guest binary could not be had.
	ErrGuestBinary = errors.New("guest binary unavailable")
)

// GuestBinaryFunc returns the static guest binary for arch.
type GuestBinaryFunc func(ctx context.Context, arch string) ([]byte, error)

// Options say which kernel and guest binary to use and where to cache.
type Options struct {
	// StoreDir is the osbuild store (kernels and initramfs are cached there).
	StoreDir string
	Arch     string
	// Mirror is the Debian mirror; "" lets images/debian resolve it.
	Mirror string
	// KernelDir, when set, is a user's kernel directory (--vm-kernel)
	// used instead of the archive.
	KernelDir string
	// GuestBinary provides the guest binary; required.
	GuestBinary GuestBinaryFunc
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Boot is a kernel and initramfs ready for vm.Config.
type Boot struct {
	Kernel *debian.Kernel
	// Initrd is the initramfs file in the store.
	Initrd string
	// InitrdCached says the initramfs was already in the store.
	InitrdCached bool
	// KernelTime and InitrdTime are how long each step took.
	KernelTime, InitrdTime time.Duration
}

// Prepare returns the kernel and initramfs for opts.Arch.
func Prepare(ctx context.Context, o Options) (*Boot, error) {
	if o.GuestBinary == nil || o.StoreDir == "" {
		return nil, errors.New("prepare boot files: a store directory and a guest binary are required")
	}
	t := time.Now()
	k, err := kernel(ctx, o)
	if err != nil {
		return nil, err
	}
	b := &Boot{Kernel: k, KernelTime: time.Since(t)}
	t = time.Now()
	bin, err := o.GuestBinary(ctx, o.Arch)
	if err != nil {
		return nil, fmt.Errorf("prepare boot files: %w: %w", ErrGuestBinary, err)
	}
	b.Initrd, b.InitrdCached, err = buildInitrd(o.StoreDir, bin, k)
	b.InitrdTime = time.Since(t)
	return b, err
}

func kernel(ctx context.Context, o Options) (*debian.Kernel, error) {
	if o.KernelDir != "" {
		k, err := debian.LoadKernelDir(o.KernelDir, o.Arch)
		if err != nil {
			return nil, fmt.Errorf("load kernel %s: %w: %w", o.KernelDir, ErrKernel, err)
		}
		return k, nil
	}
	k, err := debian.VMKernel(ctx, debian.KernelOptions{StoreDir: o.StoreDir, Mirror: o.Mirror, Arch: o.Arch, Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("get vm kernel for %s: %w: %w", o.Arch, ErrKernel, err)
	}
	return k, nil
}

// buildInitrd writes the initramfs into the store unless it is there.
func buildInitrd(store string, bin []byte, k *debian.Kernel) (string, bool, error) {
	spec := spec(bin, k)
	key := specKey(spec)
	dir := filepath.Join(store, "vm-initramfs")
	path := filepath.Join(dir, key+".cpio")
	if _, err := os.Stat(path); err == nil {
		return path, true, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("write initramfs: %w", err)
	}
	return path, false, writeAtomic(dir, path, spec)
}

// spec lists what goes into the initramfs; initramfs.Write inflates
// compressed modules itself.
func spec(bin []byte, k *debian.Kernel) initramfs.Spec {
	s := initramfs.Spec{Init: bin, Epoch: Epoch}
	for _, m := range k.Modules {
		s.Modules = append(s.Modules, initramfs.Module{Name: m.Name, Path: m.Path})
	}
	return s
}

// specKey hashes everything that determines the archive's bytes.
func specKey(s initramfs.Spec) string {
	h := sha256.New()
	field := func(b []byte) {
		binary.Write(h, binary.BigEndian, uint64(len(b)))
		h.Write(b)
	}
	field([]byte("osbuild-vm initramfs v1"))
	field(s.Init)
	binary.Write(h, binary.BigEndian, s.Epoch)
	for _, m := range s.Modules {
		field([]byte(m.Name))
		if b, err := os.ReadFile(m.Path); err == nil {
			field(b)
		} else {
			field([]byte("unreadable:" + m.Path))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeAtomic writes the archive under a temporary name, syncs it and
// renames it into place, then syncs the directory.
func writeAtomic(dir, path string, s initramfs.Spec) error {
	f, err := os.CreateTemp(dir, ".tmp-*.cpio")
	if err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	defer os.Remove(f.Name())
	if err := initramfs.Write(f, s); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("write initramfs %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	defer d.Close()
	return d.Sync()
}
