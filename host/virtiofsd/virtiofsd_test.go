package virtiofsd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCommand(t *testing.T) {
	daemon := []string{"/v", "--fd=3", "-o", "source=/s", "-o", "cache=auto", "-o", "sandbox=namespace", "-o", "no_posix_lock", "-o", "no_flock"}
	wrap := func(ns []string, mode string) []string {
		a := append(append([]string{}, ns...), "--", "/bin/sh", "-c", wrapper, "virtiofsd-wrapper", mode, "/s")
		return append(a, daemon...)
	}
	tests := []struct {
		name     string
		ro, user bool
		wantName string
		wantArgs []string
	}{
		{"root rw", false, false, "/v", daemon[1:]},
		{"root ro", true, false, "unshare", wrap([]string{"--mount", "--propagation", "private"}, "ro")},
		{"user rw", false, true, "unshare", wrap([]string{"--map-auto", "--map-root-user", "--mount", "--propagation", "private"}, "rw")},
		{"user ro", true, true, "unshare", wrap([]string{"--map-auto", "--map-root-user", "--mount", "--propagation", "private"}, "ro")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, args := Command(Options{Binary: "/v", Dir: "/s", Cache: "auto", ReadOnly: tt.ro, Rootless: tt.user})
			if name != tt.wantName {
				t.Errorf("name = %q, want %q", name, tt.wantName)
			}
			if d := cmp.Diff(tt.wantArgs, args); d != "" {
				t.Errorf("args (-want +got):\n%s", d)
			}
		})
	}
}

func TestHasSubIDs(t *testing.T) {
	tests := []struct {
		name, uid string
		want      bool
	}{
		{"alice", "1000", true},
		{"bob", "1001", true},
		{"carol", "1002", false},
		{"dave", "1003", false},
		{"broken-line", "1004", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasSubIDs("testdata/subuid", tt.name, tt.uid); got != tt.want {
				t.Errorf("hasSubIDs = %v, want %v", got, tt.want)
			}
		})
	}
	if hasSubIDs("testdata/absent", "alice", "1000") {
		t.Error("missing file has ranges")
	}
}

func TestResolveRejects(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "a,b"), filepath.Join(dir, "absent")} {
		if _, err := (Options{Binary: "/v", Dir: d}).resolve(); err == nil {
			t.Errorf("resolve(%q) accepted", d)
		}
	}
}

// TestReadOnlyEnforcedOnHost starts a real virtiofsd on a read-only share
// and checks that, in virtiofsd's mount namespace, the directory is mounted
// read-only while the host still sees it writable.
func TestReadOnlyEnforcedOnHost(t *testing.T) {
	bin, err := Find()
	if errors.Is(err, ErrNotInstalled) {
		t.Skip("virtiofsd not installed (Debian package qemu-system-common)")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := Start(ctx, Options{Binary: bin, Socket: filepath.Join(dir, "fs.sock"), Dir: dir, ReadOnly: true, Log: &log})
	if errors.Is(err, ErrNoSubIDs) {
		t.Skipf("rootless virtiofsd needs subordinate ids: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop(time.Second)
	// The wrapper bind-mounts the share (rw) and then remounts it ro before
	// it execs virtiofsd: only once virtiofsd runs is the mount final.
	if !waitFor(func() bool { return isVirtiofsd(d.proc.Pid(), bin) }) {
		t.Fatalf("virtiofsd never started; log: %s; err %v", log.String(), d.Err())
	}
	if opts := mountOptions(d.proc.Pid(), dir); !strings.HasPrefix(opts, "ro") {
		t.Errorf("share mounted %q in virtiofsd's namespace, want ro", opts)
	}
	if err := os.WriteFile(filepath.Join(dir, "host-write"), nil, 0o644); err != nil {
		t.Errorf("host lost write access: %v", err)
	}
	if err := d.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if d.Err() == nil {
		t.Error("Err = nil after Stop")
	}
}

// mountOptions returns the per-mount options of the mount at dir as pid
// sees it, or "".
func mountOptions(pid int, dir string) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == dir {
			return f[5]
		}
	}
	return ""
}

// isVirtiofsd says whether pid now runs the virtiofsd binary bin.
func isVirtiofsd(pid int, bin string) bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && exe == bin
}

func waitFor(f func() bool) bool {
	for range 100 {
		if f() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
