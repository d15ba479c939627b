package build

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"golang.org/x/sys/unix"
)

// TestCommitAbortError: when writing an object fails and discarding it
// fails too, both errors reach the caller: what the failed abort left
// behind is not silently forgotten.
func TestCommitAbortError(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after pinDir's cleanup
	errWrite := errors.New("guest went away")
	id := strings.Repeat("ab", 32)
	err = FromStore(st).Commit(id, func(w io.Writer) error {
		pending, _ := filepath.Glob(filepath.Join(st.RunDir(), "pending-*"))
		if len(pending) != 1 {
			t.Fatalf("pending objects %q, want one", pending)
		}
		pinDir(t, pending[0])
		return errWrite
	}, map[string]json.RawMessage{})
	if !errors.Is(err, errWrite) {
		t.Fatalf("Commit = %v, want the write's error", err)
	}
	if !strings.Contains(err.Error(), "abort object "+id) {
		t.Fatalf("Commit = %v, want the failed abort named too", err)
	}
}

// pinDir makes dir impossible to remove until the test ends: a mount
// inside it as root, a locked subdirectory otherwise.
func pinDir(t *testing.T, dir string) {
	t.Helper()
	sub := filepath.Join(dir, "pinned")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
		return
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(sub, 0o500)
	t.Cleanup(func() { os.Chmod(sub, 0o755) })
}
