// Package disk holds the stages that make disk images: partition tables
// (org.osbuild.sfdisk, org.osbuild.sgdisk), file systems
// (org.osbuild.mkfs.ext4, org.osbuild.mkfs.fat), boot loaders
// (org.osbuild.grub2.inst, org.osbuild.grub2.install,
// org.osbuild.grub2.cfg, org.osbuild.bootctl.install.root) and image
// formats (org.osbuild.qemu), with upstream osbuild's names and options.
//
// Every tool runs from the build root, which is the stage's "/": the image
// holds nothing of the host. Each stage works on the devices osbuild's
// stage API hands it (a loop device over the image file in the tree) and
// uses what makes its tool's output the same bytes on every run: UUIDs
// and seeds from the manifest, SOURCE_DATE_EPOCH from the pipeline's
// source-epoch, the C locale and UTC.
package disk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrNoTool marks a tool the build root lacks.
var ErrNoTool = errors.New("tool not in the build root")

// packages names the Debian package that has each tool, for the hint.
var packages = map[string]string{
	"mkfs.ext4": "e2fsprogs", "mkfs.fat": "dosfstools", "mcopy": "mtools", "mmd": "mtools",
	"sfdisk": "fdisk", "sgdisk": "gdisk", "grub-mkimage": "grub-common",
	"qemu-img": "qemu-utils", "xorriso": "xorriso", "mksquashfs": "squashfs-tools",
	"bootctl": "systemd-boot-tools",
}

// toolEnv is what every tool runs with: the stage's environment (PATH and
// SOURCE_DATE_EPOCH) with the C locale and UTC, so that nothing of where
// or when it ran reaches the image.
func toolEnv() []string {
	env := []string{"LC_ALL=C", "TZ=UTC"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "SOURCE_DATE_EPOCH" {
			env = append(env, kv)
		}
	}
	return env
}

// command prepares name from the build root with toolEnv, its output
// going to the stage's.
func command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		hint := ""
		if pkg := packages[name]; pkg != "" {
			hint = fmt.Sprintf(" (add %s to the build pipeline's packages)", pkg)
		}
		return nil, fmt.Errorf("%s: %w%s", name, ErrNoTool, hint)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = toolEnv()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd, nil
}

// run runs a tool of the build root and says how it failed.
func run(ctx context.Context, name string, args ...string) error {
	cmd, err := command(ctx, name, args...)
	if err != nil {
		return err
	}
	return runCmd(cmd)
}

// runInput runs a tool with stdin as its standard input.
func runInput(ctx context.Context, stdin io.Reader, name string, args ...string) error {
	cmd, err := command(ctx, name, args...)
	if err != nil {
		return err
	}
	cmd.Stdin = stdin
	return runCmd(cmd)
}

// output runs a tool and returns its standard output.
func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd, err := command(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := runCmd(cmd); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func runCmd(cmd *exec.Cmd) error {
	fmt.Println("+", strings.Join(cmd.Args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", cmd.Args[0], err)
	}
	return nil
}

// devicePath returns the node of the stage's device name, as osbuild's
// stages read it: args["devices"][name]["path"].
func devicePath(args *api.Arguments, name string) (string, error) {
	raw, ok := args.Devices[name]
	if !ok {
		return "", fmt.Errorf("%w: no device %q (give the stage an org.osbuild.loopback device named %q)", api.ErrInvalidArguments, name, name)
	}
	var d struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || d.Path == "" {
		return "", fmt.Errorf("%w: device %q has no path", api.ErrInvalidArguments, name)
	}
	return d.Path, nil
}

// deviceSize is the size in bytes of a block device (or file).
func deviceSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", path, err)
	}
	return n, nil
}
