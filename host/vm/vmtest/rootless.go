package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// RootlessUser is the account root tests run osbuild-vm as to see what a
// plain user gets: a system user with subordinate ids, as rootless
// virtiofsd needs.
const RootlessUser = "osbuildvmtest"

// EnsureRootlessUser creates RootlessUser with subordinate ids when it is
// missing (the test must run as root) and returns its uid and gid.
func EnsureRootlessUser(t testing.TB) (int, int) {
	t.Helper()
	if _, err := user.Lookup(RootlessUser); err != nil {
		run(t, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RootlessUser)
	}
	if !fileHasOwner("/etc/subuid", RootlessUser) || !fileHasOwner("/etc/subgid", RootlessUser) {
		run(t, "usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", RootlessUser)
	}
	u, err := user.Lookup(RootlessUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func fileHasOwner(file, name string) bool {
	b, err := os.ReadFile(file)
	return err == nil && bytes.Contains(append([]byte("\n"), b...), []byte("\n"+name+":"))
}
