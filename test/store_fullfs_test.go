package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// smallFS mounts a tmpfs of size bytes at a fresh directory, unmounted
// when the test ends.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fill takes all but leave bytes of dir's file system with one file, and
// returns a function that gives the space back.
func fill(t *testing.T, dir string, leave int64) func() {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	size := int64(st.Bavail)*st.Bsize - leave
	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
	return func() {
		if err := os.Remove(ballast); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoreOnFullFilesystem runs the example with its store, or its
// output directory, on a file system with too little space left: the
// initramfs does not fit, the trees do not, the export does not. Each run
// fails with one line that says so, leaves nothing half-written (the
// store sound, no temporary file, no partial export), and once the space
// is back the next run on the same store exports what a lone run does.
func TestStoreOnFullFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root; CI runs as root")
	}
	ref := loneRun(t, hello)
	cases := []struct {
		name string
		// prime runs first on the store with space, to leave what fits.
		prime bool
		// leave is the space left on the store's file system, or, with
		// fullOutput, on the output directory's.
		leave      int64
		fullOutput bool
	}{
		{"initramfs does not fit", false, 1 << 20, false},
		{"trees do not fit", true, 64 << 10, false},
		{"export does not fit", false, 4 << 10, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := smallFS(t, "48m")
			st, out := filepath.Join(fs, "store"), filepath.Join(fs, "out")
			if tc.fullOutput {
				out = filepath.Join(smallFS(t, "1m"), "out")
			}
			if tc.prime { // the initramfs, kernel index and sources, no objects
				r := osbuildVM(context.Background(), t, buildArgs(t, st, t.TempDir(), hello)...)
				if r.code != 0 {
					t.Fatalf("priming run: exit %d\n%s", r.code, r.stderr)
				}
			}
			full := fs
			if tc.fullOutput {
				full = filepath.Dir(out)
			}
			spaceBack := fill(t, full, tc.leave)
			r := osbuildVM(context.Background(), t, buildArgs(t, st, out, hello, "--cache-max-size", "unlimited")...)
			last := lastLine(r.stderr)
			if r.code != 1 || !strings.HasPrefix(last, "osbuild-vm: ") || !strings.Contains(last, "no space left on device") {
				t.Fatalf("exit %d, last line %q; want 1 and one line saying there is no space\n%s", r.code, last, r.stderr)
			}
			t.Logf("%s", last)
			nothingHalfWritten(t, st, out)
			spaceBack()
			next := t.TempDir()
			r = osbuildVM(context.Background(), t, buildArgs(t, st, next, hello, "--cache-max-size", "unlimited")...)
			if r.code != 0 {
				t.Fatalf("the run once space is back: exit %d\n%s", r.code, r.stderr)
			}
			sameArtifact(t, next, ref, "the run once space is back")
			storeSound(t, st, false)
		})
	}
}

// nothingHalfWritten checks what a failed run left: a sound store without
// leftovers, no temporary initramfs, nothing in the output directory.
func nothingHalfWritten(t *testing.T, st, out string) {
	t.Helper()
	storeSound(t, st, false)
	tmp, _ := filepath.Glob(filepath.Join(st, "vm-initramfs", ".tmp-*"))
	if len(tmp) > 0 {
		t.Errorf("half-written initramfs: %v", tmp)
	}
	if ents, _ := os.ReadDir(out); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the failed run left %v in the output directory", names)
	}
}
