package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
)

func TestVMCheckFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{}, "use \"vm check\""},
		{"unknown subcommand", []string{"boot"}, "use \"vm check\""},
		{"no arch", []string{"check"}, "--arch: unknown architecture \"\"; use amd64 or arm64"},
		{"bad arch", []string{"check", "--arch", "arm"}, "use amd64 or arm64"},
		{"bad accel", []string{"check", "--arch", "amd64", "--accel", "hvf"}, "use auto, kvm or tcg"},
		{"little memory", []string{"check", "--arch", "amd64", "--memory", "64MiB"}, "at least 256"},
		{"bad cpus", []string{"check", "--arch", "amd64", "--cpus", "-1"}, "give 1 to 64"},
		{"extra argument", []string{"check", "--arch", "amd64", "x"}, "unexpected argument"},
		{"bad flag", []string{"check", "--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Run(context.Background(), append([]string{"vm"}, tt.args...), nil, &out, &errOut)
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != ExitInvalid {
				t.Fatalf("Run = %v, want exit code %d", err, ExitInvalid)
			}
			if !strings.Contains(err.Error()+errOut.String(), tt.want) {
				t.Errorf("message %q (stderr %q) lacks %q", err, errOut.String(), tt.want)
			}
		})
	}
}

// TestVMCheck runs the whole check in-process on amd64 (host/vm's tests
// boot both arches).
func TestVMCheck(t *testing.T) {
	vmtest.Boot(t, "amd64") // skips without QEMU, fetches the kernel once
	t.Setenv("TMPDIR", t.TempDir())
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"vm", "check", "--arch", "amd64", "--store", vmtest.CacheDir(t), "--accel", "tcg"}, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("vm check: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"kernel", "initramfs", "qemu", "agent", "round trip median", "write refused",
		"read back on the host", "power-off", "vm check passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	assertClean(t, os.Getenv("TMPDIR"), true)
}

// helperEnv makes the test binary act as osbuild-vm (see
// TestHelperProcess); its value is the argument list as a JSON array.
const helperEnv = "OSBUILD_VM_CLI_HELPER"

// TestHelperProcess is not a test: run by the tests below as a child
// process, it is osbuild-vm's main with SIGINT/SIGTERM handling.
func TestHelperProcess(t *testing.T) {
	args := os.Getenv(helperEnv)
	if args == "" {
		return // a normal test run: nothing to do (no skip, which CI counts)
	}
	if bin := os.Getenv("OSBUILD_VM_CLI_GUEST"); bin != "" {
		guestBinary = func(_ context.Context, arch string) ([]byte, error) { return os.ReadFile(bin) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		t.Fatal(err)
	}
	err := Run(ctx, argv, nil, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Stderr.WriteString("osbuild-vm: " + err.Error() + "\n")
	}
	os.Exit(ExitCode(ctx, err))
}

// helper prepares the test binary as osbuild-vm running args, with its
// temporary files under tmp.
func helper(t *testing.T, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	argv, _ := json.Marshal(args)
	cmd.Env = append(os.Environ(), helperEnv+"="+string(argv), "TMPDIR="+tmp)
	return cmd
}

// startMidBoot starts cmd and returns once QEMU runs under tmp.
func startMidBoot(t *testing.T, cmd *exec.Cmd, tmp string) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(vmtest.ProcessesMentioning(tmp)) < 2 { // QEMU and a virtiofsd
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no VM started under %s:\n%s", tmp, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &out
}

func TestVMCheckInterrupted(t *testing.T) {
	vmtest.Boot(t, "amd64")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			cmd := helper(t, tmp, "vm", "check", "--arch", "amd64", "--store", vmtest.CacheDir(t), "--accel", "tcg")
			out := startMidBoot(t, cmd, tmp)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != ExitInterrupted {
				t.Errorf("exit = %v, want %d\n%s", err, ExitInterrupted, out.String())
			}
			assertClean(t, tmp, true)
		})
	}
}

func TestVMCheckKilled(t *testing.T) {
	vmtest.Boot(t, "amd64")
	tmp := t.TempDir()
	cmd := helper(t, tmp, "vm", "check", "--arch", "amd64", "--store", vmtest.CacheDir(t), "--accel", "tcg")
	startMidBoot(t, cmd, tmp)
	cmd.Process.Kill()
	cmd.Wait()
	// Pdeathsig kills QEMU and virtiofsd; only the temporary files stay.
	assertClean(t, tmp, false)
}

// assertClean waits briefly for helper processes to go, then checks that
// none mentions tmp and, when dirsToo, that no osbuild-vm temporary
// directory is left in it.
func assertClean(t *testing.T, tmp string, dirsToo bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(vmtest.ProcessesMentioning(tmp)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := vmtest.ProcessesMentioning(tmp); len(pids) > 0 {
		t.Errorf("processes left running: %v", pids)
	}
	if !dirsToo {
		return
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "osbuild-vm-*"))
	if len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

// rootlessUser is the account TestVMCheckRootless runs as when run as root.
const rootlessUser = vmtest.RootlessUser

// TestVMCheckRootless runs the whole check as a plain user: QEMU under TCG
// and virtiofsd in a user namespace. As root it creates the user (with
// subordinate ids); as a plain user it runs as itself.
func TestVMCheckRootless(t *testing.T) {
	boot := vmtest.Boot(t, "amd64")
	dir := worldDir(t)
	kdir := filepath.Join(dir, "kernel")
	copyFile(t, boot.Kernel.Image, filepath.Join(kdir, "vmlinuz"))
	for _, m := range boot.Kernel.Modules {
		copyFile(t, m.Path, filepath.Join(kdir, "modules", filepath.Base(m.Path)))
	}
	bin, err := guestBinary(context.Background(), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "guest"), bin, 0o644)
	copyFile(t, os.Args[0], filepath.Join(dir, "cli.test"))
	os.Chmod(filepath.Join(dir, "cli.test"), 0o755)
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	cmd := helper(t, tmp, "vm", "check", "--arch", "amd64", "--store", filepath.Join(dir, "store"), "--vm-kernel", kdir, "--accel", "tcg")
	cmd.Path, cmd.Args[0] = filepath.Join(dir, "cli.test"), filepath.Join(dir, "cli.test")
	cmd.Env = append(cmd.Env, "OSBUILD_VM_CLI_GUEST="+filepath.Join(dir, "guest"), "HOME="+dir)
	if os.Geteuid() == 0 {
		uid, gid := vmtest.EnsureRootlessUser(t)
		for _, p := range []string{dir, tmp} {
			os.Chown(p, uid, gid)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("vm check passed")) {
		t.Fatalf("vm check as a plain user: %v\n%s", err, out)
	}
	assertClean(t, tmp, true)
}

// worldDir makes a directory every user can traverse (t.TempDir's are
// private to the test's user).
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "osbuild-vm-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
