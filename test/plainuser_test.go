package test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// plainUID is the plain user (nobody on Debian) a root test runs
// osbuild-vm as, to see what a user without privileges gets.
const plainUID = 65534

// plainUserDir is a directory the plain user can reach and write: below a
// fresh directory in the system's temporary directory, mode 0755, removed
// at the end of the test.
func plainUserDir(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "osbuild-vm-plain-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

// chownTree gives every file below dir to uid (and the same gid).
func chownTree(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runAsPlainUser builds osbuild-vm into base and runs it with args as
// plainUID, in base, and returns its exit code and stderr.
func runAsPlainUser(t *testing.T, base string, args ...string) (int, string) {
	t.Helper()
	return runAs(t, base, plainRun{uid: plainUID, gid: plainUID}, args...)
}

// plainRun says who runs osbuild-vm, and how.
type plainRun struct {
	uid, gid int
	env      []string // besides PATH, HOME and TMPDIR
	umask077 bool     // run with umask 077 instead of the test's
}

// runAs builds osbuild-vm into base and runs it with args as p says, in
// base/home, and returns its exit code and stderr.
func runAs(t *testing.T, base string, p plainRun, args ...string) (int, string) {
	t.Helper()
	bin := filepath.Join(base, "osbuild-vm")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	build := exec.Command(goTool, "build", "-buildvcs=false", "-o", bin, "./cmd/osbuild-vm")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build osbuild-vm: %v\n%s", err, out)
	}
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	chownTree(t, home, p.uid)
	cmd := exec.CommandContext(context.Background(), bin, args...)
	if p.umask077 {
		// umask belongs to the process: a shell sets it and execs the binary
		cmd = exec.CommandContext(context.Background(), "/bin/sh", append([]string{"-c", `umask 077; exec "$0" "$@"`, bin}, args...)...)
	}
	cmd.Dir = home
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "TMPDIR=" + home}, p.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	case err != nil:
		t.Fatalf("run osbuild-vm as uid %d: %v", p.uid, err)
	}
	return 0, stderr.String()
}
