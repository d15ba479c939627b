package test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// diskTools are the packages of a small trixie build root with the disk
// tools, unpacked with deb.extract (no maintainer script runs; these tools
// need none): busybox for sh, e2fsprogs, dosfstools, mtools, fdisk, gdisk
// and what they link against. base-files comes first for the merged-/usr
// links.
var diskTools = []string{"base-files", "libc6", "gcc-14-base", "libgcc-s1", "libstdc++6", "busybox-static",
	"e2fsprogs", "libext2fs2t64", "libcom-err2", "libss2", "logsave", "libblkid1", "libuuid1",
	"dosfstools", "mtools", "fdisk", "libfdisk1", "libmount1", "libsmartcols1", "libselinux1", "libpcre2-8-0",
	"libncursesw6", "libtinfo6", "libreadline8t64", "readline-common", "gdisk", "libpopt0"}

var trixiePins sync.Map // arch -> *pinnedSet

type pinnedSet struct {
	once sync.Once
	pkgs []archive.Package
	err  error
}

// pinTrixie pins names for arch from trixie on the host's mirror.
func pinTrixie(t *testing.T, arch string, names []string) []archive.Package {
	t.Helper()
	v, _ := trixiePins.LoadOrStore(arch+strings.Join(names, " "), &pinnedSet{})
	p := v.(*pinnedSet)
	p.once.Do(func() {
		mirror, err := archive.ResolveMirror("")
		if err != nil {
			p.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		a := &archive.Archive{Mirror: mirror, Suite: "trixie"}
		for _, n := range names {
			pkg, err := a.ResolvePackage(ctx, arch, n)
			if err != nil {
				p.err = err
				return
			}
			p.pkgs = append(p.pkgs, pkg)
		}
	})
	if p.err != nil {
		t.Fatalf("pin trixie packages for %s: %v", arch, p.err)
	}
	return p.pkgs
}

// toolsBuildPipeline is a build pipeline of diskTools with /usr/bin/sh.
func toolsBuildPipeline(t *testing.T, arch string, sources map[string]any) map[string]any {
	var refs []any
	for _, p := range pinTrixie(t, arch, diskTools) {
		sum := "sha256:" + p.SHA256
		refs = append(refs, sum)
		sources[sum] = p.URL
	}
	return map[string]any{"name": "build", "source-epoch": 1700000000, "stages": []any{
		map[string]any{"type": "org.osbuild.deb.extract", "inputs": map[string]any{"debs": map[string]any{
			"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": refs}}},
		map[string]any{"type": "org.osbuild.ln", "options": map[string]any{"paths": []any{
			map[string]any{"target": "busybox", "link_name": "tree:///usr/bin/sh", "symbolic": true}}}},
	}}
}

// addInline puts data into the inline source items and returns its reference.
func addInline(items map[string]any, data string) string {
	sum, item := inline([]byte(data))
	items[sum] = item
	return sum
}

func loopback(opts map[string]any) map[string]any {
	o := map[string]any{"filename": "disk.img"}
	for k, v := range opts {
		o[k] = v
	}
	return map[string]any{"type": "org.osbuild.loopback", "options": o}
}

// The test disk: GPT, an ESP of 16 MiB and a Linux partition to the end.
var testPartitions = []any{
	map[string]any{"start": 2048, "size": 32768, "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "name": "esp",
		"uuid": "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6"},
	map[string]any{"start": 34816, "size": 96222, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "name": "root",
		"uuid": "2e3f4a5b-6c7d-4e8f-90a1-b2c3d4e5f607"},
}

// diskStages partition and format the 64 MiB disk.img of the tree.
func diskStages(rootInput map[string]any) []any {
	ext4 := map[string]any{"type": "org.osbuild.mkfs.ext4", "devices": map[string]any{"device": loopback(map[string]any{"start": 34816, "size": 96222})},
		"options": map[string]any{"uuid": "6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "label": "root"}}
	fat := map[string]any{"type": "org.osbuild.mkfs.fat", "devices": map[string]any{"device": loopback(map[string]any{"start": 2048, "size": 32768})},
		"options": map[string]any{"volid": "7B7795E7", "label": "ESP"}}
	if rootInput != nil {
		ext4["inputs"] = map[string]any{"root": rootInput}
		fat["inputs"] = map[string]any{"root": map[string]any{"type": "org.osbuild.tree", "origin": "org.osbuild.pipeline", "references": []any{"name:esp"}}}
	}
	return []any{
		map[string]any{"type": "org.osbuild.truncate", "options": map[string]any{"filename": "disk.img", "size": "64M"}},
		map[string]any{"type": "org.osbuild.sfdisk", "devices": map[string]any{"device": loopback(nil)},
			"options": map[string]any{"label": "gpt", "uuid": "d7e6c1a4-3f2b-4c8d-9e0f-1a2b3c4d5e6f", "partitions": testPartitions}},
		fat, ext4,
	}
}

// TestDevicesAndMounts: in arm64's VM, sfdisk partitions an image through
// a loop device, mkfs.fat and mkfs.ext4 format its partitions through
// loop devices at offsets, org.osbuild.copy writes into both through
// org.osbuild.ext4 and org.osbuild.fat mounts of a partition-scanned loop
// device (the ESP nested at /boot/efi in the root file system), and a
// stage from --libdir reads them back read-only and sees the arguments
// osbuild gives; a mount of a partition the table lacks fails the build
// with one line naming it, with no VM left.
func TestDevicesAndMounts(t *testing.T) {
	const arch = "arm64"
	sources, inl := map[string]any{}, map[string]any{}
	hello := addInline(inl, "hello\n")
	mounts := func(readonly bool) []any {
		o := map[string]any{"readonly": readonly}
		return []any{
			map[string]any{"name": "root", "type": "org.osbuild.ext4", "source": "disk", "partition": 2, "target": "/", "options": o},
			map[string]any{"name": "efi", "type": "org.osbuild.fat", "source": "disk", "partition": 1, "target": "/boot/efi", "options": o},
		}
	}
	disk := map[string]any{"disk": loopback(map[string]any{"partscan": true})}
	stages := append(diskStages(nil),
		map[string]any{"type": "org.osbuild.copy", "devices": disk, "mounts": mounts(false),
			"inputs": map[string]any{"files": map[string]any{"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []any{hello}}},
			"options": map[string]any{"paths": []any{
				map[string]any{"from": "input://files/" + hello, "to": "mount://root/hello"},
				map[string]any{"from": "input://files/" + hello, "to": "mount://efi/HELLO.TXT"},
			}}},
		map[string]any{"type": "test.check", "devices": disk, "mounts": mounts(true)},
	)
	sg := map[string]any{"name": "sg", "build": "name:build", "source-epoch": 1700000000, "stages": []any{
		map[string]any{"type": "org.osbuild.truncate", "options": map[string]any{"filename": "disk.img", "size": "16M"}},
		map[string]any{"type": "org.osbuild.sgdisk", "devices": map[string]any{"device": loopback(nil)},
			"options": map[string]any{"uuid": "d7e6c1a4-3f2b-4c8d-9e0f-1a2b3c4d5e6f", "partitions": []any{
				map[string]any{"start": 2048, "size": 8192, "type": "8300", "name": "data", "uuid": "2e3f4a5b-6c7d-4e8f-90a1-b2c3d4e5f607"}}}},
		map[string]any{"type": "test.check", "devices": disk},
	}}
	m := map[string]any{"version": "2", "pipelines": []any{
		toolsBuildPipeline(t, arch, sources),
		map[string]any{"name": "tree", "build": "name:build", "source-epoch": 1700000000, "stages": stages},
		sg,
	}, "sources": map[string]any{"org.osbuild.curl": map[string]any{"items": sources}, "org.osbuild.inline": map[string]any{"items": inl}}}
	check := `set -u
ls /dev | grep loop > /run/osbuild/tree/devs
cat /run/osbuild/api/arguments > /run/osbuild/tree/args.json
[ -d /run/osbuild/mounts/boot ] || exit 0
out=/run/osbuild/tree/seen
cat /run/osbuild/mounts/hello /run/osbuild/mounts/boot/efi/HELLO.TXT > $out
if touch /run/osbuild/mounts/x 2>/dev/null; then echo writable >> $out; fi
`
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, arch)...)
	args = append(args, "--libdir", libdir(t, "check", check), "--output-directory", out, "--export", "tree", "--export", "sg",
		writeJSON(t, "disk.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	tree := filepath.Join(out, "tree")
	if seen, _ := os.ReadFile(filepath.Join(tree, "seen")); string(seen) != "hello\nhello\n" {
		t.Errorf("read back through the mounts: %q", seen)
	}
	devs, _ := os.ReadFile(filepath.Join(tree, "devs"))
	if f := strings.Fields(string(devs)); len(f) != 3 || !strings.HasSuffix(f[1], "p1") || !strings.HasSuffix(f[2], "p2") {
		t.Errorf("the stage's /dev has %q, want one loop device and its two partitions", devs)
	}
	// sgdisk's table, scanned by the kernel: one partition.
	if sgdevs, _ := os.ReadFile(filepath.Join(out, "sg", "devs")); len(strings.Fields(string(sgdevs))) != 2 {
		t.Errorf("after sgdisk the stage's /dev has %q, want a loop device and one partition", sgdevs)
	}
	var a struct {
		Devices map[string]struct {
			Path string         `json:"path"`
			Node map[string]int `json:"node"`
		} `json:"devices"`
		Mounts map[string]map[string]string `json:"mounts"`
	}
	data, _ := os.ReadFile(filepath.Join(tree, "args.json"))
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("arguments: %v\n%s", err, data)
	}
	if d := a.Devices["disk"]; !strings.HasPrefix(d.Path, "/dev/loop") || d.Node["major"] != 7 {
		t.Errorf("devices argument: %+v", a.Devices)
	}
	if a.Mounts["root"]["path"] != "/run/osbuild/mounts/." || a.Mounts["efi"]["path"] != "/run/osbuild/mounts/boot/efi" {
		t.Errorf("mounts argument: %+v", a.Mounts)
	}

	// A mount of a partition the table lacks: one line, exit 1.
	stages[len(stages)-1] = map[string]any{"type": "test.check", "devices": disk, "mounts": []any{
		map[string]any{"name": "root", "type": "org.osbuild.ext4", "source": "disk", "partition": 3, "target": "/"}}}
	store := t.TempDir()
	args = []string{"run", "--arch", arch, "--vm-kernel", kernelDir(t, arch), "--store", store, "--cache-max-size", "unlimited",
		"--libdir", libdir(t, "check", check), "--output-directory", t.TempDir(), "--export", "tree", "--checkpoint", "tree",
		writeJSON(t, "bad.json", m)}
	r = osbuildVM(context.Background(), t, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "has no partition 3; it has 1, 2") {
		t.Errorf("missing partition: exit %d, want 1 with the partitions named:\n%s", r.code, r.stderr)
	}
	if left := storeLeftovers(t, store); len(left) > 0 {
		t.Errorf("store after the failure: %v", left)
	}
	noStrayProcesses(t)
}

// TestDiskImageReproducible: the same partitioned image made twice, the
// second time by another VM with one CPU in another time zone, is the
// same bytes: sfdisk with the manifest's UUIDs, mkfs.fat with its volume
// id and the ESP's tree copied in by mtools, mkfs.ext4 with its UUID and
// a tree made in another order.
func TestDiskImageReproducible(t *testing.T) {
	const arch = "arm64"
	sources, inl := map[string]any{}, map[string]any{}
	script := addInline(inl, "echo hi\n")
	content := map[string]any{"name": "content", "source-epoch": 1700000000, "stages": []any{
		map[string]any{"type": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{
			map[string]any{"path": "/etc"}, map[string]any{"path": "/usr/bin", "parents": true}, map[string]any{"path": "/var/empty", "parents": true}}}},
		map[string]any{"type": "org.osbuild.copy", "inputs": map[string]any{"f": map[string]any{"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []any{script}}},
			"options": map[string]any{"paths": []any{
				map[string]any{"from": "input://f/" + script, "to": "tree:///usr/bin/hi"},
				map[string]any{"from": "input://f/" + script, "to": "tree:///etc/motd"}}}},
		map[string]any{"type": "org.osbuild.ln", "options": map[string]any{"paths": []any{
			map[string]any{"target": "/usr/bin/hi", "link_name": "tree:///etc/hi", "symbolic": true}}}},
	}}
	esp := map[string]any{"name": "esp", "source-epoch": 1700000000, "stages": []any{
		map[string]any{"type": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{map[string]any{"path": "/EFI/BOOT", "parents": true}}}},
		map[string]any{"type": "org.osbuild.copy", "inputs": map[string]any{"f": map[string]any{"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []any{script}}},
			"options": map[string]any{"paths": []any{map[string]any{"from": "input://f/" + script, "to": "tree:///EFI/BOOT/grub.cfg"}}}},
	}}
	root := map[string]any{"type": "org.osbuild.tree", "origin": "org.osbuild.pipeline", "references": []any{"name:content"}}
	m := map[string]any{"version": "2", "pipelines": []any{
		toolsBuildPipeline(t, arch, sources), content, esp,
		map[string]any{"name": "image", "build": "name:build", "source-epoch": 1700000000, "stages": diskStages(root)},
	}, "sources": map[string]any{"org.osbuild.curl": map[string]any{"items": sources}, "org.osbuild.inline": map[string]any{"items": inl}}}
	manifest := writeJSON(t, "repro.json", m)
	var images [2][]byte
	for i, extra := range [][]string{nil, {"--cpus", "1"}} {
		out := t.TempDir()
		args := append(append([]string{"run"}, vmArgs(t, arch)...), extra...)
		args = append(args, "--output-directory", out, "--export", "image", manifest)
		if i == 1 {
			t.Setenv("TZ", "Pacific/Chatham")
		}
		r := osbuildVM(context.Background(), t, args...)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		data, err := os.ReadFile(filepath.Join(out, "image", "disk.img"))
		if err != nil {
			t.Fatal(err)
		}
		images[i] = data
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Fatalf("the two images differ: %s", diffRanges(images[0], images[1]))
	}
}

// diffRanges names where two byte slices differ, the first few ranges.
func diffRanges(a, b []byte) string {
	if len(a) != len(b) {
		return "sizes " + itoa(len(a)) + " and " + itoa(len(b))
	}
	var out []string
	for i := 0; i < len(a) && len(out) < 8; i++ {
		if a[i] == b[i] {
			continue
		}
		j := i
		for j < len(a) && a[j] != b[j] {
			j++
		}
		out = append(out, "bytes "+itoa(i)+"-"+itoa(j-1)+" (sector "+itoa(i/512)+")")
		i = j
	}
	return strings.Join(out, ", ")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDiskFaults: bad input to the disk stages stops the build at the
// stage with one line that says what and how to fix it, exit 1, nothing
// of the failed pipeline in the store (only the build root, checkpointed
// by an earlier case) and no VM or helper left.
func TestDiskFaults(t *testing.T) {
	const arch = "arm64"
	tools := map[string]any{"type": "org.osbuild.tree", "origin": "org.osbuild.pipeline", "references": []any{"name:build"}}
	truncate := func(size string) map[string]any {
		return map[string]any{"type": "org.osbuild.truncate", "options": map[string]any{"filename": "disk.img", "size": size}}
	}
	cases := []struct {
		name   string
		stages []any
		want   string
	}{
		{"partition table larger than the image", []any{truncate("8M"),
			map[string]any{"type": "org.osbuild.sfdisk", "devices": map[string]any{"device": loopback(nil)},
				"options": map[string]any{"label": "gpt", "uuid": "d7e6c1a4-3f2b-4c8d-9e0f-1a2b3c4d5e6f", "partitions": testPartitions}}},
			"partition 1 ends at sector 34815, past the image's last usable sector 16350"},
		{"file system too small for the tree", []any{truncate("8M"),
			map[string]any{"type": "org.osbuild.mkfs.ext4", "devices": map[string]any{"device": loopback(nil)},
				"inputs": map[string]any{"root": tools}, "options": map[string]any{"uuid": "6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"}}},
			"does not fit in /dev/loop"},
		{"boot loader without its tools", append(diskStages(nil),
			map[string]any{"type": "org.osbuild.grub2.install", "devices": map[string]any{"disk": loopback(map[string]any{"partscan": true})},
				"options": map[string]any{"root": map[string]any{"uuid": "6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"}, "efi": map[string]any{"partition": 1}}}),
			"grub-mkimage: tool not in the build root (add grub-common to the build pipeline's packages)"},
	}
	store := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sources := map[string]any{}
			m := map[string]any{"version": "2", "pipelines": []any{
				toolsBuildPipeline(t, arch, sources),
				map[string]any{"name": "bad", "build": "name:build", "source-epoch": 1700000000, "stages": tc.stages},
			}, "sources": map[string]any{"org.osbuild.curl": map[string]any{"items": sources}}}
			r := osbuildVM(context.Background(), t, "run", "--arch", arch, "--vm-kernel", kernelDir(t, arch), "--store", store,
				"--cache-max-size", "unlimited", "--checkpoint", "build", "--checkpoint", "bad",
				"--output-directory", t.TempDir(), "--export", "bad", writeJSON(t, "bad.json", m))
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", r.code, tc.want, tail(r.stderr, 3000))
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("a panic:\n%s", r.stderr)
			}
			objs, _ := os.ReadDir(filepath.Join(store, "objects"))
			if len(objs) != 1 {
				t.Errorf("store holds %d objects, want only the build root", len(objs))
			}
			if left := storeLeftovers(t, store); len(left) > 0 {
				t.Errorf("store after the failure: %v", left)
			}
			noStrayProcesses(t)
		})
	}
}
