package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// inline makes an org.osbuild.inline item for data.
func inline(data []byte) (string, map[string]any) {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), map[string]any{"encoding": "base64", "data": base64.StdEncoding.EncodeToString(data)}
}

func fileInput(sum string) map[string]any {
	return map[string]any{"file": map[string]any{"type": "org.osbuild.files", "origin": "org.osbuild.source", "references": []any{sum}}}
}

func smallTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "data/file", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6})
	tw.Write([]byte("untar\n"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEveryBuiltinStageInVM runs each built-in stage that the other
// end-to-end tests do not, in one pipeline in the VM, and checks its
// effect on the exported tree.
func TestEveryBuiltinStageInVM(t *testing.T) {
	text := []byte("compress me\n")
	textSum, textItem := inline(text)
	tarSum, tarItem := inline(smallTar(t))
	stage := func(typ string, options map[string]any) map[string]any {
		return map[string]any{"type": "org.osbuild." + typ, "options": options}
	}
	withInput := func(s map[string]any, sum string) map[string]any {
		s["inputs"] = fileInput(sum)
		return s
	}
	m := map[string]any{
		"version": "2",
		"pipelines": []any{map[string]any{"name": "tree", "source-epoch": 1700000000, "stages": []any{
			stage("noop", map[string]any{"noop-marker": "left alone"}),
			stage("mkdir", map[string]any{"paths": []any{
				map[string]any{"path": "/etc"}, map[string]any{"path": "/var"}, map[string]any{"path": "/opt"},
				map[string]any{"path": "/home/owned", "parents": true}}}),
			stage("hostname", map[string]any{"hostname": "every"}),
			stage("chmod", map[string]any{"items": map[string]any{"/etc/hostname": map[string]any{"mode": "0600"}}}),
			stage("chown", map[string]any{"items": map[string]any{"/home/owned": map[string]any{"user": 1234, "group": 1234}}}),
			stage("truncate", map[string]any{"filename": "/var/sparse", "size": "1M"}),
			stage("keymap", map[string]any{"keymap": "us"}),
			stage("fstab", map[string]any{"filesystems": []any{map[string]any{
				"uuid": "6e4ff95f-f662-45ee-a82a-bdf44a2d0b75", "path": "/", "vfs_type": "ext4", "options": "defaults"}}}),
			stage("kernel-cmdline", map[string]any{"root_fs_uuid": "6e4ff95f-f662-45ee-a82a-bdf44a2d0b75", "kernel_opts": "console=ttyS0"}),
			stage("modprobe", map[string]any{"filename": "blacklist-test.conf", "commands": []any{
				map[string]any{"command": "blacklist", "modulename": "nouveau"}}}),
			stage("sysctld", map[string]any{"filename": "50-test.conf", "config": []any{
				map[string]any{"key": "net.ipv4.ip_forward", "value": "1"}}}),
			stage("tmpfilesd", map[string]any{"filename": "test.conf", "config": []any{
				map[string]any{"type": "d", "path": "/run/test", "mode": "0755"}}}),
			stage("resolv-conf", map[string]any{"nameserver": []any{"192.0.2.53"}, "search": []any{"example.test"}}),
			withInput(stage("untar", map[string]any{"prefix": "/opt"}), tarSum),
			withInput(stage("gzip", map[string]any{"filename": "/var/text.gz"}), textSum),
			withInput(stage("xz", map[string]any{"filename": "/var/text.xz"}), textSum),
			withInput(stage("zstd", map[string]any{"filename": "/var/text.zst"}), textSum),
		}}},
		"sources": map[string]any{"org.osbuild.inline": map[string]any{"items": map[string]any{textSum: textItem, tarSum: tarItem}}},
	}
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	args = append(args, "--output-directory", out, "--export", "tree", writeJSON(t, "every.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	tree := filepath.Join(out, "tree")
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(tree, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return string(b)
	}
	contains := map[string]string{
		"etc/vconsole.conf":                      "KEYMAP=us",
		"etc/fstab":                              "UUID=6e4ff95f-f662-45ee-a82a-bdf44a2d0b75",
		"etc/kernel/cmdline":                     "console=ttyS0",
		"usr/lib/modprobe.d/blacklist-test.conf": "blacklist nouveau",
		"usr/lib/sysctl.d/50-test.conf":          "net.ipv4.ip_forward = 1",
		"usr/lib/tmpfiles.d/test.conf":           "/run/test",
		"etc/resolv.conf":                        "nameserver 192.0.2.53",
		"opt/data/file":                          "untar",
	}
	for p, want := range contains {
		if got := read(p); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", p, got, want)
		}
	}
	if st, err := os.Stat(filepath.Join(tree, "etc/hostname")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("chmod: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(tree, "var/sparse")); err != nil {
		t.Errorf("truncate: %v", err)
	} else if st.Size() != 1<<20 {
		t.Errorf("truncate: var/sparse has %d bytes, want %d", st.Size(), 1<<20)
	}
	// noop changes nothing; what shows it ran in the VM with its options
	// is its one line of output.
	if want := `Not doing anything with these options: {"noop-marker": "left alone"}`; !strings.Contains(r.stderr, want) &&
		!strings.Contains(r.stderr, strings.ReplaceAll(want, `": "`, `":"`)) {
		t.Errorf("noop did not report its options; want %q in:\n%s", want, r.stderr)
	}
	t.Run("chown owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("exported owners need root; CI runs as root")
		}
		if st, err := os.Stat(filepath.Join(tree, "home/owned")); err != nil || ownerOf(st) != 1234 {
			t.Errorf("chown: owner %d, %v", ownerOf(st), err)
		}
	})
	decompressors := map[string]func(io.Reader) (io.Reader, error){
		"var/text.gz":  func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"var/text.xz":  func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) },
		"var/text.zst": func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) },
	}
	for p, open := range decompressors {
		zr, err := open(strings.NewReader(read(p)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if b, _ := io.ReadAll(zr); !bytes.Equal(b, text) {
			t.Errorf("%s decompresses to %q", p, b)
		}
	}
}

// TestV1NoopAssembler runs a v1 manifest whose assembler is
// org.osbuild.noop: it succeeds and its export is an empty tree.
func TestV1NoopAssembler(t *testing.T) {
	m := map[string]any{"pipeline": map[string]any{
		"stages":    []any{map[string]any{"name": "org.osbuild.mkdir", "options": map[string]any{"paths": []any{map[string]any{"path": "/etc"}}}}},
		"assembler": map[string]any{"name": "org.osbuild.noop"},
	}}
	out := t.TempDir()
	args := append([]string{"run"}, vmArgs(t, "amd64")...)
	args = append(args, "--output-directory", out, "--export", "assembler", writeJSON(t, "noop.json", m))
	r := osbuildVM(context.Background(), t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	entries, err := os.ReadDir(filepath.Join(out, "assembler"))
	if err != nil || len(entries) != 0 {
		t.Fatalf("noop assembler export: %v %v", entries, err)
	}
}
