package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// shareFixture makes a writable share "rw", a read-only share "ro" and a
// secret file outside both, with symlinks trying to reach it.
func shareFixture(t *testing.T) (*fileService, string) {
	t.Helper()
	base := t.TempDir()
	rw, ro := filepath.Join(base, "rw"), filepath.Join(base, "ro")
	secret := filepath.Join(base, "secret")
	for _, d := range []string{rw, ro, filepath.Join(rw, "dir")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(secret, []byte("secret"), 0o644))
	must(t, os.WriteFile(filepath.Join(rw, "hello.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(ro, "hello.txt"), []byte("ro hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(rw, "big"), make([]byte, jsoncomm.MaxFileSize+1), 0o644))
	must(t, os.Symlink(secret, filepath.Join(rw, "abs-escape")))
	must(t, os.Symlink("../secret", filepath.Join(rw, "rel-escape")))
	must(t, os.Symlink("hello.txt", filepath.Join(rw, "inside-link")))
	must(t, os.Symlink(base, filepath.Join(rw, "dir-escape")))
	must(t, syscall.Mkfifo(filepath.Join(rw, "fifo"), 0o644))
	fs := &fileService{shares: []jsoncomm.Share{
		{Tag: "rw", Path: rw},
		{Tag: "ro", Path: ro, ReadOnly: true},
	}}
	return fs, base
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileRead(t *testing.T) {
	fs, base := shareFixture(t)
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{"file", "/rw/hello.txt", "hello", nil},
		{"read-only share", "/ro/hello.txt", "ro hello", nil},
		{"symlink inside", "/rw/inside-link", "hello", nil},
		{"missing", "/rw/nope", "", jsoncomm.ErrNotFound},
		{"dotdot", "/rw/../secret", "", jsoncomm.ErrInvalid},
		{"not clean", "/rw//hello.txt", "", jsoncomm.ErrInvalid},
		{"relative", "rw/hello.txt", "", jsoncomm.ErrInvalid},
		{"outside shares", "/secret", "", jsoncomm.ErrPermission},
		{"share name prefix", "/rwx/hello.txt", "", jsoncomm.ErrPermission},
		{"absolute symlink out", "/rw/abs-escape", "", jsoncomm.ErrPermission},
		{"relative symlink out", "/rw/rel-escape", "", jsoncomm.ErrPermission},
		{"through symlinked dir", "/rw/dir-escape/secret", "", jsoncomm.ErrPermission},
		{"share root", "/rw", "", jsoncomm.ErrInvalid},
		{"directory", "/rw/dir", "", jsoncomm.ErrInvalid},
		{"fifo", "/rw/fifo", "", jsoncomm.ErrInvalid},
		{"too large", "/rw/big", "", jsoncomm.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path
			if strings.HasPrefix(p, "/") {
				p = base + p
			}
			got, err := fs.read(p)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("read(%s) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("read(%s) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestFileWrite(t *testing.T) {
	fs, base := shareFixture(t)
	tests := []struct {
		name    string
		path    string
		size    int
		wantErr error
	}{
		{"new file", "/rw/new.txt", 5, nil},
		{"replace", "/rw/hello.txt", 3, nil},
		{"in subdirectory", "/rw/dir/x", 1, nil},
		{"read-only share", "/ro/new.txt", 1, jsoncomm.ErrPermission},
		{"outside shares", "/new", 1, jsoncomm.ErrPermission},
		{"missing parent", "/rw/nodir/x", 1, jsoncomm.ErrNotFound},
		{"symlink dir out", "/rw/dir-escape/planted", 1, jsoncomm.ErrPermission},
		{"too large", "/rw/huge", jsoncomm.MaxFileSize + 1, jsoncomm.ErrTooLarge},
		{"dotdot", "/rw/../planted", 1, jsoncomm.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(strings.Repeat("x", tt.size))
			err := fs.write(base+tt.path, data, 0o600)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("write(%s) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			fi, err := os.Stat(base + tt.path)
			if err != nil || fi.Size() != int64(tt.size) || fi.Mode().Perm() != 0o600 {
				t.Errorf("after write: %v, %v", fi, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(base, "planted")); err == nil {
		t.Error("a write escaped the share")
	}
	leftovers, _ := filepath.Glob(filepath.Join(base, "rw", ".osbuild-vm-write.*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestFileWriteReplacesSymlink(t *testing.T) {
	fs, base := shareFixture(t)
	// Writing to a symlink that points out must not write through it.
	err := fs.write(base+"/rw/abs-escape", []byte("pwned"), 0)
	got, _ := os.ReadFile(filepath.Join(base, "secret"))
	if string(got) != "secret" {
		t.Fatalf("write through symlink changed the file outside the share (err %v)", err)
	}
}
