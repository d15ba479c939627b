package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Hostile stages from --libdir: stages that try to reach outside their
// tree through what they put in it. Each runs in the real build VM (amd64,
// busybox build root) with its tree as a checkpoint and an unlimited
// cache, so that anything the run wrongly accepted would be committed.

// hostileNonce names the files hostile stages try to create outside their
// tree, on the guest's side; the host must never have them.
var hostileNonce = fmt.Sprintf("osbuild-vm-hostile-%d", os.Getpid())

// hostileRun builds the "tree" pipeline with one stage, test.hostile,
// running script; it returns the result, the store and the output dir.
func hostileRun(t *testing.T, script string) (result, string, string) {
	t.Helper()
	script = strings.ReplaceAll(script, "NONCE", hostileNonce)
	m := busyboxManifest(t, "amd64", map[string]any{"type": "test.hostile"})
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	store := args[len(args)-1]
	out := t.TempDir()
	args = append(args, "--libdir", libdir(t, "hostile", script), "--output-directory", out,
		"--export", "tree", "--checkpoint", "tree", "--cache-max-size", "unlimited", writeJSON(t, "hostile.json", m))
	r := osbuildVM(context.Background(), t, args...)
	t.Logf("exit %d, stderr:\n%s", r.code, r.stderr)
	noStrayProcesses(t)
	return r, store, out
}

// refused checks what every refused hostile run must give: exit 1, the
// stage's failure as the last line, nothing exported or committed, the
// store clean, and none of paths (host paths the stage aimed at) present.
func refused(t *testing.T, r result, store, out string, paths ...string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "osbuild-vm: pipeline tree: stage test.hostile (") || !strings.HasSuffix(last, ") exited with status 1") {
		t.Errorf("last line %q, want the stage's failure", last)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a refused run exported %v", entries)
	}
	if objs, _ := os.ReadDir(filepath.Join(store, "objects")); len(objs) != 0 {
		t.Errorf("a refused run committed %d objects", len(objs))
	}
	if left := storeLeftovers(t, store); len(left) != 0 {
		t.Errorf("store leftovers: %v", left)
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on the host", p)
			os.Remove(p)
		}
	}
}

// TestHostileSymlinksOutOfTree: a stage makes symlinks to / and .. in its
// tree and writes through them. What lands in its own sandbox (tmpfs /tmp
// and /run) stays in the guest; the write into the read-only build root
// (its /bin) fails the stage; the host has none of the files.
func TestHostileSymlinksOutOfTree(t *testing.T) {
	r, store, out := hostileRun(t, `set -eu
bb=/bin/busybox
t=/run/osbuild/tree
$bb ln -s / $t/root
$bb ln -s .. $t/up
$bb ln -s ../../../../../../../.. $t/deep
echo "symlinks to / and .. made"
echo x > $t/root/tmp/NONCE
echo x > $t/up/NONCE
echo x > $t/deep/tmp/NONCE-deep
echo "wrote through them into the sandbox"
echo x > $t/root/bin/NONCE
echo "wrote into the build root"
`)
	if !strings.Contains(r.stderr, "wrote through them into the sandbox") {
		t.Errorf("the stage did not get as far as writing through its symlinks")
	}
	if strings.Contains(r.stderr, "wrote into the build root") || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("the stage's write into its build root was not refused as read-only")
	}
	refused(t, r, store, out, "/"+hostileNonce, "/tmp/"+hostileNonce, "/tmp/"+hostileNonce+"-deep",
		"/bin/"+hostileNonce, "/run/"+hostileNonce, "/run/osbuild/"+hostileNonce,
		filepath.Join(filepath.Dir(out), hostileNonce), filepath.Join(filepath.Dir(store), hostileNonce))
}

// TestHostileHardLinkOutOfTree: a stage tries to hard link files from
// outside its tree (the build root, its arguments, its metadata file)
// into it; every link is refused (each is another mount), and the stage
// fails.
func TestHostileHardLinkOutOfTree(t *testing.T) {
	r, store, out := hostileRun(t, `set -u
bb=/bin/busybox
t=/run/osbuild/tree
status=0
for f in /bin/busybox /run/osbuild/api/arguments $t/../meta /etc/NONCE; do
	if $bb ln "$f" "$t/link-$($bb basename "$f")" 2>/dev/null; then echo "linked $f"; else echo "refused $f"; status=1; fi
done
exit $status
`)
	for _, f := range []string{"/bin/busybox", "/run/osbuild/api/arguments", "/run/osbuild/tree/../meta"} {
		if !strings.Contains(r.stderr, "refused "+f) {
			t.Errorf("no refusal of %s", f)
		}
	}
	if strings.Contains(r.stderr, "linked ") {
		t.Errorf("a hard link to a file outside the tree was made")
	}
	refused(t, r, store, out, "/etc/"+hostileNonce)
}

// nodesScript leaves in the tree what a plain user cannot export: device
// nodes (one hard linked), a setuid program, a setgid directory.
const nodesScript = `set -eu
bb=/bin/busybox
t=/run/osbuild/tree
$bb mknod $t/sda b 8 0
$bb mknod $t/null c 1 3
$bb ln $t/null $t/null2
$bb cp /bin/busybox $t/su
$bb chmod 4755 $t/su
$bb mkdir $t/shared
$bb chmod 2775 $t/shared
echo hello > $t/hello
`

// TestHostileNodesExportedByPlainUser: root exports device nodes and a
// setuid program as they are; a plain user's export of the same tree from
// the store succeeds, leaves them out (nodes) or plain (no setuid/setgid
// bit), and says so in exactly one line.
func TestHostileNodesExportedByPlainUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tree is built and exported as root first; a plain user's run cannot")
	}
	base := plainUserDir(t)
	store, manifest := filepath.Join(base, "store"), filepath.Join(base, "nodes.json")
	os.Rename(writeJSON(t, "nodes.json", busyboxManifest(t, "amd64", map[string]any{"type": "test.hostile"})), manifest)
	lib := filepath.Join(base, "lib")
	os.Rename(libdir(t, "hostile", nodesScript), lib)
	os.Chmod(lib, 0o755)
	common := []string{"--arch", "amd64", "--store", store, "--libdir", lib, "--export", "tree",
		"--checkpoint", "tree", "--cache-max-size", "unlimited"}

	rootOut := filepath.Join(base, "root-out")
	r := osbuildVM(context.Background(), t, append(append([]string{"run", "--vm-kernel", kernelDir(t, "amd64")}, common...),
		"--output-directory", rootOut, manifest)...)
	if r.code != 0 {
		t.Fatalf("root run: exit %d\n%s", r.code, r.stderr)
	}
	checkRootExport(t, filepath.Join(rootOut, "tree"))
	if strings.Contains(r.stderr, "left out") {
		t.Errorf("root's export left something out:\n%s", r.stderr)
	}

	plainOut := filepath.Join(base, "plain-out")
	os.Mkdir(plainOut, 0o755)
	chownTree(t, plainOut, plainUID)
	chownTree(t, store, plainUID)
	code, stderr := runAsPlainUser(t, base, append(append([]string{"run", "--vm-kernel", filepath.Join(base, "no-kernel")}, common...),
		"--output-directory", plainOut, manifest)...)
	t.Logf("plain user's run: exit %d\n%s", code, stderr)
	if code != 0 {
		t.Fatalf("plain user's export: exit %d, want 0", code)
	}
	want := "export tree: as a plain user, left out the owners of 6 entries, 3 device nodes, " +
		"the setuid/setgid bits of 2 entries; run as root to keep them"
	if n := strings.Count(stderr, "left out"); n != 1 || !strings.Contains(stderr, want) {
		t.Errorf("want exactly one report line %q", want)
	}
	checkPlainExport(t, filepath.Join(plainOut, "tree"))
	if left := storeLeftovers(t, store); len(left) != 0 {
		t.Errorf("store leftovers: %v", left)
	}
}

func checkRootExport(t *testing.T, dir string) {
	t.Helper()
	var st unix.Stat_t
	for name, want := range map[string]struct {
		mode  uint32
		rdev  uint64
		nlink uint64
	}{
		"sda": {unix.S_IFBLK | 0o644, unix.Mkdev(8, 0), 1}, "null": {unix.S_IFCHR | 0o644, unix.Mkdev(1, 3), 2},
		"su": {unix.S_IFREG | 0o4755, 0, 1}, "shared": {unix.S_IFDIR | 0o2775, 0, 2},
	} {
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil {
			t.Errorf("root's export: %v", err)
			continue
		}
		if st.Mode != want.mode || st.Rdev != want.rdev || st.Nlink != want.nlink || st.Uid != 0 {
			t.Errorf("root's export %s: mode %o rdev %d nlink %d uid %d; want mode %o rdev %d nlink %d uid 0",
				name, st.Mode, st.Rdev, st.Nlink, st.Uid, want.mode, want.rdev, want.nlink)
		}
	}
}

func checkPlainExport(t *testing.T, dir string) {
	t.Helper()
	var st unix.Stat_t
	for _, name := range []string{"sda", "null", "null2"} {
		if err := unix.Lstat(filepath.Join(dir, name), &st); err == nil {
			t.Errorf("plain export has device node %s", name)
		}
	}
	for name, mode := range map[string]uint32{"su": unix.S_IFREG | 0o755, "shared": unix.S_IFDIR | 0o775, "hello": unix.S_IFREG | 0o644} {
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil || st.Mode != mode || st.Uid != plainUID {
			t.Errorf("plain export %s: mode %o uid %d, %v; want mode %o uid %d", name, st.Mode, st.Uid, err, mode, plainUID)
		}
	}
}
