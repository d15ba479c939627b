package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/osbuild-vm/osbuild-vm/initramfs/modorder"
	"golang.org/x/sys/unix"
)

// moduleRoot makes a root with an order file and one .ko per name.
func moduleRoot(t *testing.T, order string, kos ...string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, modorder.Dir)
	must(t, os.MkdirAll(dir, 0o755))
	if order != "" {
		must(t, os.WriteFile(filepath.Join(root, modorder.Path), []byte(order), 0o644))
	}
	for _, n := range kos {
		must(t, os.WriteFile(filepath.Join(dir, n+".ko"), []byte(n), 0o644))
	}
	return root
}

// recorder is a loadFunc that records what it loaded and fails as told.
type recorder struct {
	mu     sync.Mutex
	loaded []string
	fail   map[string]error
}

func (r *recorder) load(f *os.File) error {
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loaded = append(r.loaded, string(data))
	return r.fail[string(data)]
}

// before reports whether a was loaded before b.
func (r *recorder) before(a, b string) bool {
	return slices.Index(r.loaded, a) < slices.Index(r.loaded, b)
}

func TestLoadModules(t *testing.T) {
	const order = "virtio\nvirtio_ring\nfuse\nvirtio_pci virtio virtio_ring\nvirtiofs fuse virtio virtio_ring\n"
	all := []string{"virtio", "virtio_ring", "fuse", "virtio_pci", "virtiofs"}
	tests := []struct {
		name       string
		order      string
		kos        []string
		fail       map[string]error
		wantLoaded []string // in any order
		wantErr    error
	}{
		{"all", order, all, nil, all, nil},
		{"already there", order, all, map[string]error{"virtio": unix.EEXIST}, all, nil},
		{"no order file", "", nil, nil, nil, nil},
		{"load error skips dependents", order, all, map[string]error{"fuse": unix.ENOEXEC},
			[]string{"virtio", "virtio_ring", "fuse", "virtio_pci"}, unix.ENOEXEC},
		{"missing object", "virtio\nfuse\n", []string{"virtio"}, nil, []string{"virtio"}, os.ErrNotExist},
		{"bad order file", "virtio\n../x\n", nil, nil, nil, modorder.ErrInvalid},
		{"dependency after dependent", "virtio_pci virtio\nvirtio\n", nil, nil, nil, modorder.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{fail: tt.fail}
			names, err := loadModules(moduleRoot(t, tt.order, tt.kos...), rec.load)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("loadModules error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantLoaded, rec.loaded, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
			if err == nil && len(names) != len(tt.wantLoaded) {
				t.Errorf("loadModules = %v", names)
			}
			if tt.name == "all" {
				for _, dep := range []string{"virtio", "virtio_ring", "fuse"} {
					if !rec.before(dep, "virtiofs") {
						t.Errorf("virtiofs loaded before %s: %v", dep, rec.loaded)
					}
				}
			}
		})
	}
}

// TestLoadModulesParallel checks that independent modules load at the
// same time: a's load only returns once b's has started.
func TestLoadModulesParallel(t *testing.T) {
	root := moduleRoot(t, "a\nb\n", "a", "b")
	bStarted := make(chan struct{})
	load := func(f *os.File) error {
		if filepath.Base(f.Name()) == "b.ko" {
			close(bStarted)
			return nil
		}
		select {
		case <-bStarted:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("b did not start while a was loading")
		}
	}
	if _, err := loadModules(root, load); err != nil {
		t.Fatal(err)
	}
}

func TestWorkSize(t *testing.T) {
	for _, tt := range []struct{ ram, want uint64 }{
		{2 << 30, 2<<30 - 384<<20},
		{512 << 20, 256 << 20},
		{768 << 20, 384 << 20},
		{0, 0},
	} {
		if got := workSize(tt.ram); got != tt.want {
			t.Errorf("workSize(%d) = %d, want %d", tt.ram, got, tt.want)
		}
	}
}
