package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
	loaded []string
	fail   map[string]error
}

func (r *recorder) load(f *os.File) error {
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	r.loaded = append(r.loaded, string(data))
	return r.fail[string(data)]
}

func TestLoadModules(t *testing.T) {
	const order = "virtio\nvirtio_ring\nfuse\nvirtiofs fuse virtio virtio_ring\n"
	all := []string{"virtio", "virtio_ring", "fuse", "virtiofs"}
	tests := []struct {
		name    string
		order   string
		kos     []string
		fail    map[string]error
		want    []string
		wantErr error
	}{
		{"in file order", order, all, nil, all, nil},
		{"already there", order, all, map[string]error{"virtio": unix.EEXIST}, all, nil},
		{"no order file", "", nil, nil, nil, nil},
		{"load error stops", order, all, map[string]error{"virtio_ring": unix.ENOEXEC},
			[]string{"virtio", "virtio_ring"}, unix.ENOEXEC},
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
			if diff := cmp.Diff(tt.want, rec.loaded); diff != "" {
				t.Errorf("load order (-want +got):\n%s", diff)
			}
			if err == nil && !cmp.Equal(names, rec.loaded, cmpopts.EquateEmpty()) {
				t.Errorf("loadModules = %v, loaded %v", names, rec.loaded)
			}
		})
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

func TestSplitModules(t *testing.T) {
	entries := []modorder.Entry{
		{Name: "virtio"}, {Name: "virtio_ring", Deps: []string{"virtio"}},
		{Name: "virtio_mmio", Deps: []string{"virtio", "virtio_ring"}},
		{Name: "virtio_console", Deps: []string{"virtio", "virtio_ring"}},
		{Name: "fuse"}, {Name: "virtiofs", Deps: []string{"fuse", "virtio", "virtio_ring"}},
		{Name: "virtio_blk", Deps: []string{"virtio", "virtio_ring"}},
		{Name: "vsock"}, {Name: "vmw_vsock_virtio_transport_common", Deps: []string{"vsock", "virtio", "virtio_ring"}},
		{Name: "vmw_vsock_virtio_transport", Deps: []string{"vmw_vsock_virtio_transport_common", "vsock"}},
		{Name: "loop"}, {Name: "overlay"},
	}
	cases := map[string]struct{ early, late string }{
		ChannelVirtioSerial: {
			"[virtio virtio_ring virtio_console fuse virtiofs]",
			"[virtio_mmio virtio_blk vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport loop overlay]",
		},
		ChannelVsock: {
			"[virtio virtio_ring virtio_console fuse virtiofs vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport]",
			"[virtio_mmio virtio_blk loop overlay]",
		},
	}
	for channel, want := range cases {
		early, late := splitModules(entries, channel)
		if got := fmt.Sprint(modorder.Names(early)); got != want.early {
			t.Errorf("%s early = %s, want %s", channel, got, want.early)
		}
		if got := fmt.Sprint(modorder.Names(late)); got != want.late {
			t.Errorf("%s late = %s, want %s", channel, got, want.late)
		}
	}
}
