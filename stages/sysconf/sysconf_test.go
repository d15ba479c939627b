package sysconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

type stageFunc func(context.Context, *api.Arguments) error

func TestConfigFiles(t *testing.T) {
	cases := []struct {
		name    string
		stage   stageFunc
		options string
		file    string
		want    string
	}{
		{"hostname", Hostname, `{"hostname": "box.example"}`, "etc/hostname", "box.example\n"},
		{"locale", Locale, `{"language": "en_US.UTF-8"}`, "etc/locale.conf", "LANG=en_US.UTF-8\n"},
		{"keymap", Keymap, `{"keymap": "de-latin1", "font": "eurlatgr"}`, "etc/vconsole.conf", "KEYMAP=de-latin1\nFONT=eurlatgr\n"},
		{"x11", Keymap, `{"keymap": "us", "x11-keymap": {"layouts": ["us", "de"]}}`, "etc/X11/xorg.conf.d/00-keyboard.conf",
			"# Written by osbuild-vm; localectl(1) may rewrite it.\nSection \"InputClass\"\n        Identifier \"system-keyboard\"\n        MatchIsKeyboard \"on\"\n        Option \"XkbLayout\" \"us,de\"\nEndSection\n"},
		{"machine-id yes", MachineID, `{"first-boot": "yes"}`, "etc/machine-id", "uninitialized\n"},
		{"machine-id no", MachineID, `{"first-boot": "no"}`, "etc/machine-id", ""},
		{"cmdline", KernelCmdline, `{"root_fs_uuid": "9c6ae55b-cf88-45b8-84e8-64990759f39d", "kernel_opts": "ro quiet"}`, "etc/kernel/cmdline",
			"root=UUID=9c6ae55b-cf88-45b8-84e8-64990759f39d ro quiet"},
		{"cmdline empty", KernelCmdline, `{}`, "etc/kernel/cmdline", ""},
		{"modprobe", Modprobe, `{"filename": "b.conf", "commands": [{"command": "blacklist", "modulename": "nouveau"}, {"command": "install", "modulename": "x", "cmdline": "/bin/true"}]}`,
			"usr/lib/modprobe.d/b.conf", "blacklist nouveau\ninstall x /bin/true\n"},
		{"sysctld", Sysctld, `{"filename": "a.conf", "config": [{"key": "net.ipv4.ip_forward", "value": "1"}, {"key": "-net.*"}]}`,
			"usr/lib/sysctl.d/a.conf", "net.ipv4.ip_forward = 1\n-net.*\n"},
		{"tmpfilesd", Tmpfilesd, `{"filename": "a.conf", "config": [{"type": "d", "path": "/run/x", "mode": "0755"}, {"type": "L+", "path": "/a", "argument": "/b"}, {"type": "f", "path": "/c"}]}`,
			"usr/lib/tmpfiles.d/a.conf", "d /run/x 0755\nL+ /a - - - - /b\nf /c\n"},
		{"resolv", ResolvConf, `{"nameserver": ["1.1.1.1", "9.9.9.9"], "search": ["a.org", "b.org"]}`, "etc/resolv.conf",
			"# This file was created by osbuild\nsearch a.org b.org\nnameserver 1.1.1.1\nnameserver 9.9.9.9\n"},
		{"resolv empty", ResolvConf, `{}`, "etc/resolv.conf", "# This file was created by osbuild\n"},
		{"fstab", Fstab, `{"filesystems": [{"uuid": "u1", "path": "/", "vfs_type": "ext4", "freq": 1, "passno": 1}, {"label": "boot", "path": "/boot"}, {"partlabel": "efi", "path": "/efi", "options": "umask=077"}, {"device": "/dev/vdb", "path": "/srv"}]}`,
			"etc/fstab", "UUID=u1\t/\text4\tdefaults\t1\t1\nLABEL=boot\t/boot\tnone\tdefaults\t0\t0\nPARTLABEL=efi\t/efi\tnone\tumask=077\t0\t0\n/dev/vdb\t/srv\tnone\tdefaults\t0\t0\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := stagetest.Args(t, tc.options)
			if err := tc.stage(context.Background(), args); err != nil {
				t.Fatal(err)
			}
			if got := stagetest.Read(t, args.Tree, tc.file); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.file, got, tc.want)
			}
		})
	}
}

func TestReplacesSymlinkInsteadOfFollowing(t *testing.T) {
	args := stagetest.Args(t, `{"nameserver": ["10.0.0.1"]}`)
	stagetest.Write(t, args.Tree, "run/systemd/resolve/stub-resolv.conf", "stub\n")
	stagetest.Symlink(t, args.Tree, "etc/resolv.conf", "/run/systemd/resolve/stub-resolv.conf")
	if err := ResolvConf(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(args.Tree, "etc/resolv.conf")); fi.Mode()&os.ModeSymlink != 0 {
		t.Error("resolv.conf is still a symlink")
	}
	if got := stagetest.Read(t, args.Tree, "run/systemd/resolve/stub-resolv.conf"); got != "stub\n" {
		t.Errorf("link target changed: %q", got)
	}
}

func TestTimezone(t *testing.T) {
	args := stagetest.Args(t, `{"zone": "Europe/Berlin"}`)
	stagetest.Write(t, args.Tree, "etc/localtime", "old")
	if err := Timezone(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(args.Tree, "etc/localtime"))
	if err != nil || target != "../usr/share/zoneinfo/Europe/Berlin" {
		t.Errorf("localtime -> %q, %v", target, err)
	}
}

func TestRejects(t *testing.T) {
	long := `{"kernel_opts": "` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name    string
		stage   stageFunc
		options string
		want    error
	}{
		{"hostname", Hostname, `{"hostname": "bad host"}`, ErrInvalidValue},
		{"hostname dots", Hostname, `{"hostname": "a..b"}`, ErrInvalidValue},
		{"zone", Timezone, `{"zone": "../../etc/passwd"}`, ErrInvalidValue},
		{"locale", Locale, `{"language": "en US"}`, ErrInvalidValue},
		{"keymap", Keymap, `{"keymap": "us\nFONT=x"}`, ErrInvalidValue},
		{"x11 layout", Keymap, `{"keymap": "us", "x11-keymap": {"layouts": ["us\" Option \"x"]}}`, ErrInvalidValue},
		{"preserve", MachineID, `{"first-boot": "preserve"}`, ErrNoMachineID},
		{"cmdline", KernelCmdline, long, ErrInvalidValue},
		{"conf name", Sysctld, `{"filename": "../x.conf", "config": [{"key": "a", "value": "b"}]}`, ErrInvalidValue},
		{"ostree", Fstab, `{"filesystems": [], "ostree": {"deployment": {"default": true}}}`, ErrOstreeUnsupported},
		{"options type", Hostname, `{"hostname": 5}`, api.ErrInvalidArguments},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.stage(context.Background(), stagetest.Args(t, tc.options)); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCmdlineLimitFollowsArch(t *testing.T) {
	opts := `{"kernel_opts": "` + strings.Repeat("x", 2000) + `"}`
	err := KernelCmdline(context.Background(), stagetest.Args(t, opts))
	if limit := cmdlineMax[runtime.GOARCH]; limit != 0 && limit < 2000 && err == nil {
		t.Error("limit not applied")
	}
	if err := KernelCmdline(context.Background(), stagetest.Args(t, `{"kernel_opts": "`+strings.Repeat("x", 300)+`", "kernel_cmdline_size": 256}`)); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("custom limit: %v", err)
	}
}

// TestSymlinkEscapes: with etc pointing out of the tree (absolute, "/",
// or via ".."), no stage writes outside it.
func TestSymlinkEscapes(t *testing.T) {
	stagesToRun := []struct {
		stage   stageFunc
		options string
	}{
		{Hostname, `{"hostname": "h"}`}, {Locale, `{"language": "C.UTF-8"}`},
		{Keymap, `{"keymap": "us", "x11-keymap": {"layouts": ["us"]}}`}, {MachineID, `{"first-boot": "yes"}`},
		{KernelCmdline, `{"kernel_opts": "ro"}`}, {ResolvConf, `{}`}, {Timezone, `{"zone": "UTC"}`},
		{Fstab, `{"filesystems": [{"device": "/dev/vda", "path": "/"}]}`},
	}
	for _, target := range []string{"ABS", "/", "../../../../.."} {
		for i, s := range stagesToRun {
			args := stagetest.Args(t, s.options)
			outside, check := stagetest.Outside(t, args)
			link := target
			if link == "ABS" {
				link = outside
			}
			stagetest.Symlink(t, args.Tree, "etc", link)
			stagetest.Symlink(t, args.Tree, "usr", link)
			if err := s.stage(context.Background(), args); err != nil {
				t.Errorf("stage %d with etc -> %s: %v", i, link, err)
			}
			check()
		}
	}
}
