package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// TestBuildRootWithoutMountpoints runs a stage in a build root made of
// packages alone (no /dev, /proc, /sys, /run, /tmp): the stage gets them
// anyway, sees the build root's entries read-only, and the build root
// itself is left as it was.
func TestBuildRootWithoutMountpoints(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	dir := r.treeDir("build")
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp"} {
		if err := os.Remove(filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("bin", filepath.Join(dir, "sbin")); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "etc/motd"), "from the build root\n"); err != nil {
		t.Fatal(err)
	}
	openTree(t, c, "tree", "")
	exe := script(t, `cat /etc/motd > /run/osbuild/tree/motd
/sbin/ls /proc/self >/dev/null && echo proc > /run/osbuild/tree/proc
echo x > /tmp/x && echo tmp > /run/osbuild/tree/tmp
touch /etc/evil 2>/dev/null && echo "wrote /etc"
touch /evil 2>/dev/null && echo "wrote /"
true
`)
	var l logs
	res, err := runStage(t, c, jsoncomm.StageRunParams{Tree: "tree", BuildRoot: "build", Type: "org.test.bare", Executable: exe}, &l)
	if err != nil || !res.Success {
		t.Fatalf("stage: %+v %v (logs %+v)", res, err, l.lines)
	}
	for _, m := range l.lines {
		t.Errorf("unexpected output: %s: %s", m.Stream, m.Text)
	}
	for name, want := range map[string]string{"motd": "from the build root\n", "proc": "proc\n", "tmp": "tmp\n"} {
		if b, _ := os.ReadFile(filepath.Join(r.treeDir("tree"), name)); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
	for _, d := range []string{"dev", "proc", "evil", "etc/evil"} {
		if _, err := os.Lstat(filepath.Join(dir, d)); err == nil {
			t.Errorf("the build root gained /%s", d)
		}
	}
}
