package debian

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// writeTree writes files (relative path -> content) under a new directory.
func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, strings.TrimPrefix(p, "./"))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadKernelDir(t *testing.T) {
	dir := writeTree(t, kernelFiles(t, []byte("bzImage")))
	k, err := LoadKernelDir(dir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if k.Image != filepath.Join(dir, "boot", "vmlinuz-"+fakeVersion) || k.Version != fakeVersion {
		t.Errorf("Image, Version = %s, %s", k.Image, k.Version)
	}
	var names []string
	for _, m := range k.Modules {
		names = append(names, m.Name)
		rc, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if !strings.HasPrefix(string(data), "\x7fELF") {
			t.Errorf("module %s (%s) does not open as plain ELF", m.Name, m.Path)
		}
	}
	if diff := cmp.Diff(wantOrder, names); diff != "" {
		t.Errorf("module order (-want +got):\n%s", diff)
	}
}

func TestLoadKernelDirLayouts(t *testing.T) {
	tests := []struct {
		name        string
		files       map[string][]byte
		arch        string
		wantErr     error
		wantImage   string
		wantBuiltin int
	}{
		{"image only, all built in", map[string][]byte{"Image": []byte("x")}, "arm64", nil, "Image", len(NeededModules)},
		{"bzImage", map[string][]byte{"bzImage": []byte("x")}, "amd64", nil, "bzImage", len(NeededModules)},
		{"no image", map[string][]byte{"lib/modules/1/loop.ko": fakearchive.Module("loop")}, "amd64", ErrNoKernel, "", 0},
		{"bad arch", map[string][]byte{"Image": []byte("x")}, "s390x", ErrUnsupportedArch, "", 0},
		{"builtin list without loop", map[string][]byte{"vmlinuz": []byte("x"), "lib/modules/1/modules.builtin": []byte("kernel/x/virtio.ko\n")}, "amd64", ErrModuleMissing, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			k, err := LoadKernelDir(dir, tt.arch)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("LoadKernelDir error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if k.Image != filepath.Join(dir, tt.wantImage) || len(k.Builtin) != tt.wantBuiltin || len(k.Modules) != 0 {
				t.Errorf("kernel = %+v", k)
			}
		})
	}
}

func TestLoadKernelDirTwoImages(t *testing.T) {
	dir := writeTree(t, map[string][]byte{"vmlinuz-1": []byte("a"), "boot/vmlinuz-2": []byte("b")})
	if _, err := LoadKernelDir(dir, "amd64"); !errors.Is(err, ErrSeveralKernels) {
		t.Fatalf("LoadKernelDir with two images = %v, want an error naming both", err)
	}
}
