package runner

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// diskImage writes a sparse 16 MiB file with an MBR whose one Linux
// partition starts at sector 2048 and fills the rest.
func diskImage(t *testing.T, path string) {
	t.Helper()
	const size = 16 << 20
	mbr := make([]byte, 512)
	entry := mbr[446:]
	entry[4] = 0x83
	binary.LittleEndian.PutUint32(entry[8:], 2048)
	binary.LittleEndian.PutUint32(entry[12:], size/512-2048)
	mbr[510], mbr[511] = 0x55, 0xaa
	if err := os.WriteFile(path, mbr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// attachedTo lists the loop devices whose backing file is path: none may
// be left once a stage is over.
func attachedTo(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	matches, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err == nil && strings.TrimSpace(string(b)) == path {
			out = append(out, strings.Split(m, "/")[3])
		}
	}
	return out
}

func deviceParams(tree, exe string, devOpts string, mounts ...jsoncomm.StageMount) jsoncomm.StageRunParams {
	return jsoncomm.StageRunParams{
		Tree: tree, BuildRoot: "build", Type: "org.test.script", Executable: exe,
		Devices: []jsoncomm.StageDevice{{Name: "disk", Type: "org.osbuild.loopback", Options: json.RawMessage(devOpts)}},
		Mounts:  mounts,
	}
}

// TestLoopbackAndExt4Mount formats a partition of an image through a
// loop device in one stage, writes a file into it through an ext4 mount
// in the next and reads it back read-only in a third; no loop device is
// left after any of them, also after a stage that fails. The partition is
// reached by offset (start, size): this host's kernel may read no
// partition tables (the VM tests cover partscan with the guest's).
func TestLoopbackAndExt4Mount(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "img", "")
	img := filepath.Join(r.treeDir("img"), "disk.img")
	diskImage(t, img)
	partscan := `{"filename": "/disk.img", "start": 2048, "size": 30720}`
	root := func(opts string) jsoncomm.StageMount {
		return jsoncomm.StageMount{Name: "root", Type: "org.osbuild.ext4", Source: "disk", Target: "/", Options: json.RawMessage(opts)}
	}
	steps := []struct {
		name   string
		p      jsoncomm.StageRunParams
		ok     bool
		stdout string
	}{
		{"mkfs", deviceParams("img", script(t, `for p in /dev/loop*; do mke2fs -q "$p"; done`), partscan), true, ""},
		{"write", deviceParams("img", script(t, `cat /run/osbuild/api/arguments > /tmp/a
grep -q '"mounts": *{"root": *{"path": *"/run/osbuild/mounts/."}}' /tmp/a || grep -o '"mounts".*' /tmp/a
mkdir /run/osbuild/mounts/etc && echo written > /run/osbuild/mounts/etc/hello`), partscan, root(`{}`)), true, ""},
		{"fail after writing", deviceParams("img", script(t, `echo kept > /run/osbuild/mounts/etc/kept; exit 3`), partscan, root(`{}`)), false, ""},
		{"read-only", deviceParams("img", script(t, `cat /run/osbuild/mounts/etc/hello /run/osbuild/mounts/etc/kept
if touch /run/osbuild/mounts/x 2>/dev/null; then echo writable; fi`), partscan, root(`{"readonly": true}`)), true, "written\nkept\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var l logs
			res, err := runStage(t, c, s.p, &l)
			if err != nil {
				t.Fatalf("stage.run: %v", err)
			}
			if res.Success != s.ok {
				t.Fatalf("success = %v, want %v; output %+v", res.Success, s.ok, l.lines)
			}
			if s.stdout != "" && stdout(&l) != s.stdout {
				t.Errorf("stdout = %q, want %q", stdout(&l), s.stdout)
			}
			if left := attachedTo(t, img); len(left) > 0 {
				t.Fatalf("loop devices left attached to the image: %v", left)
			}
		})
	}
}

func stdout(l *logs) string {
	var b strings.Builder
	for _, m := range l.lines {
		if m.Stream == jsoncomm.StreamStdout {
			b.WriteString(m.Text)
		}
	}
	return b.String()
}

// TestDeviceTimeout: a stage that hangs in its mount is killed at its
// timeout, and its loop device is detached all the same.
func TestDeviceTimeout(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "img", "")
	img := filepath.Join(r.treeDir("img"), "disk.img")
	diskImage(t, img)
	p := deviceParams("img", script(t, `for p in /dev/loop*; do mke2fs -q "$p"; done`), `{"filename": "disk.img", "start": 2048}`)
	if res, err := runStage(t, c, p, &logs{}); err != nil || !res.Success {
		t.Fatalf("mkfs: %+v %v", res, err)
	}
	p = deviceParams("img", script(t, `cd /run/osbuild/mounts && sleep 60`), `{"filename": "disk.img", "start": 2048}`,
		jsoncomm.StageMount{Name: "root", Type: "org.osbuild.ext4", Source: "disk", Target: "/"})
	p.TimeoutSeconds = 0.5
	_, err := runStage(t, c, p, &logs{})
	if !errors.Is(err, jsoncomm.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if left := attachedTo(t, img); len(left) > 0 {
		t.Fatalf("loop devices left attached after a timeout: %v", left)
	}
}

// TestDeviceErrors: what cannot be set up fails before the stage with one
// clear error, and leaves nothing attached.
func TestDeviceErrors(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "img", "")
	dir := r.treeDir("img")
	img := filepath.Join(dir, "disk.img")
	diskImage(t, img)
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	two := 2
	exe := script(t, `echo ran`)
	cases := []struct {
		name, opts string
		mounts     []jsoncomm.StageMount
		kind       error
		want       string
	}{
		{"missing file", `{"filename": "nothere.img"}`, nil, jsoncomm.ErrNotFound, "not in the tree"},
		{"symlink", `{"filename": "link"}`, nil, jsoncomm.ErrInvalid, "symlink"},
		{"escape", `{"filename": "../../../../etc/passwd"}`, nil, jsoncomm.ErrNotFound, "not in the tree"},
		{"past the end", `{"filename": "disk.img", "start": 30000, "size": 4096}`, nil, jsoncomm.ErrInvalid, "past its end"},
		{"fractional", `{"filename": "disk.img", "start": 1.5}`, nil, jsoncomm.ErrInvalid, "whole number"},
		{"sector size", `{"filename": "disk.img", "sector-size": 1000}`, nil, jsoncomm.ErrInvalid, "sector-size"},
		{"missing partition", `{"filename": "disk.img", "partscan": true}`,
			[]jsoncomm.StageMount{{Name: "boot", Type: "org.osbuild.ext4", Source: "disk", Partition: &two, Target: "/boot"}},
			jsoncomm.ErrNotFound, "has no partition 2"},
		{"no partscan", `{"filename": "disk.img"}`,
			[]jsoncomm.StageMount{{Name: "boot", Type: "org.osbuild.ext4", Source: "disk", Partition: &two, Target: "/boot"}},
			jsoncomm.ErrNotFound, "is partscan set"},
		{"unknown mount type", `{"filename": "disk.img"}`,
			[]jsoncomm.StageMount{{Name: "x", Type: "org.osbuild.ostree.deployment", Source: "disk", Target: "/"}},
			jsoncomm.ErrUnsupported, "not supported"},
		{"unformatted", `{"filename": "disk.img"}`,
			[]jsoncomm.StageMount{{Name: "x", Type: "org.osbuild.ext4", Source: "disk", Target: "/"}},
			jsoncomm.ErrInvalid, "no ext4 file system there"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l logs
			_, err := runStage(t, c, deviceParams("img", exe, tc.opts, tc.mounts...), &l)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %v with %q", err, tc.kind, tc.want)
			}
			if stdout(&l) != "" {
				t.Errorf("the stage ran: %q", stdout(&l))
			}
			if left := attachedTo(t, img); len(left) > 0 {
				t.Fatalf("loop devices left attached: %v", left)
			}
		})
	}
}

// TestTreeFileInput: an org.osbuild.files input from a pipeline shows
// one file of another working tree at its relative path, and nothing
// else of it; a symlink there is refused rather than followed.
func TestTreeFileInput(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	buildRoot(t, c, r, "build")
	openTree(t, c, "img", "")
	openTree(t, c, "out", "")
	dir := r.treeDir("img")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub/disk.raw"), []byte("raw bytes"), 0o644)
	os.WriteFile(filepath.Join(dir, "other"), []byte("not for the stage"), 0o644)
	os.Symlink("/etc/hostname", filepath.Join(dir, "link"))
	exe := script(t, `cat /run/osbuild/inputs/image/sub/disk.raw; ls /run/osbuild/inputs/image`)
	input := func(file string) map[string]jsoncomm.StageInput {
		return map[string]jsoncomm.StageInput{"image": {Type: "org.osbuild.files", Tree: "img", Files: []string{file}}}
	}
	var l logs
	res, err := runStage(t, c, jsoncomm.StageRunParams{Tree: "out", BuildRoot: "build", Type: "org.test.script", Executable: exe, Inputs: input("sub/disk.raw")}, &l)
	if err != nil || !res.Success {
		t.Fatalf("stage: %+v %v %+v", res, err, l.lines)
	}
	if got := stdout(&l); got != "raw bytessub\n" {
		t.Errorf("stage saw %q", got)
	}
	for _, bad := range []string{"link", "../img/other"} {
		_, err := runStage(t, c, jsoncomm.StageRunParams{Tree: "out", BuildRoot: "build", Type: "org.test.script", Executable: exe, Inputs: input(bad)}, &logs{})
		if !errors.Is(err, jsoncomm.ErrInvalid) {
			t.Errorf("input file %q: err = %v, want invalid", bad, err)
		}
	}
}
