package guestbin

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestBinaryUnknownArch(t *testing.T) {
	for _, arch := range []string{"", "arm", "riscv64", "../amd64"} {
		if _, err := Binary(context.Background(), arch); !errors.Is(err, ErrUnknownArch) {
			t.Errorf("Binary(%q) = %v, want ErrUnknownArch", arch, err)
		}
	}
}

// TestBinary checks that each binary is a static linux executable for its
// architecture, built from source when make did not embed it, and that the
// cache serves the second request.
func TestBinary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil && !Embedded("amd64") {
		t.Skip("no go toolchain and no embedded guest binary")
	}
	cache := t.TempDir()
	t.Setenv("OSBUILD_VM_GUESTBIN_CACHE", cache)
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, arch := range Arches {
		t.Run(arch, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			data, err := Binary(ctx, arch)
			if err != nil {
				t.Fatalf("Binary: %v", err)
			}
			checkStatic(t, data, machines[arch])
			if Embedded(arch) {
				return
			}
			cached, _ := filepath.Glob(filepath.Join(cache, "*", FileName(arch)))
			if len(cached) != 1 {
				t.Fatalf("cache holds %v, want one binary", cached)
			}
			mu.Lock()
			delete(built, arch)
			mu.Unlock()
			start := time.Now()
			again, err := Binary(ctx, arch)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("second Binary: %v, same bytes %v", err, bytes.Equal(again, data))
			}
			t.Logf("cached lookup took %v", time.Since(start))
		})
	}
}

func checkStatic(t *testing.T, data []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("ELF machine %v type %v, want %v executable", f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary is dynamically linked (%v)", p.Type)
		}
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("moduleRoot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "guest", "cmd", "osbuild-guest")); err != nil {
		t.Errorf("module root %s has no guest/cmd/osbuild-guest: %v", root, err)
	}
}
