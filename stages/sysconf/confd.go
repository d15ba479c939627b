package sysconf

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// cmdlineMax is the kernel's COMMAND_LINE_SIZE for the architectures we
// build; others get the largest any architecture allows.
var cmdlineMax = map[string]int{"amd64": 2048, "386": 2048, "arm64": 2048, "arm": 1024, "riscv64": 1024}

// KernelCmdline writes /etc/kernel/cmdline from the root filesystem UUID
// and extra options, refusing a line longer than the kernel accepts.
func KernelCmdline(_ context.Context, args *api.Arguments) error {
	var opts struct {
		RootFSUUID string `json:"root_fs_uuid"`
		KernelOpts string `json:"kernel_opts"`
		MaxSize    int    `json:"kernel_cmdline_size"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	limit := opts.MaxSize
	if limit == 0 {
		limit = cmdlineMax[runtime.GOARCH]
	}
	if limit == 0 {
		limit = 4096
	}
	var params []string
	if opts.RootFSUUID != "" {
		params = append(params, "root=UUID="+opts.RootFSUUID)
	}
	if opts.KernelOpts != "" {
		params = append(params, opts.KernelOpts)
	}
	line := strings.Join(params, " ")
	if len(line) > limit {
		return fmt.Errorf("kernel command line of %d bytes: %w: longer than %d", len(line), ErrInvalidValue, limit)
	}
	return api.Root(args.Tree).WriteFile("/etc/kernel/cmdline", []byte(line), 0o644)
}

type modprobeCommand struct {
	Command    string `json:"command"`
	ModuleName string `json:"modulename"`
	Cmdline    string `json:"cmdline"`
}

// Modprobe writes a modprobe.d file of blacklist and install commands.
func Modprobe(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Filename string            `json:"filename"`
		Commands []modprobeCommand `json:"commands"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range opts.Commands {
		switch c.Command {
		case "blacklist":
			fmt.Fprintf(&b, "blacklist %s\n", c.ModuleName)
		case "install":
			fmt.Fprintf(&b, "install %s %s\n", c.ModuleName, c.Cmdline)
		default:
			return fmt.Errorf("modprobe command %q: %w", c.Command, ErrInvalidValue)
		}
	}
	return writeConfD(args, "/usr/lib/modprobe.d", opts.Filename, b.String())
}

// Sysctld writes a sysctl.d file: "key = value" lines, or a bare key
// (an exclusion like "-net.ipv4.*") when there is no value.
func Sysctld(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Filename string `json:"filename"`
		Config   []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"config"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range opts.Config {
		if c.Value != "" {
			fmt.Fprintf(&b, "%s = %s\n", c.Key, c.Value)
		} else {
			fmt.Fprintf(&b, "%s\n", c.Key)
		}
	}
	return writeConfD(args, "/usr/lib/sysctl.d", opts.Filename, b.String())
}

type tmpfilesLine struct {
	Type     string `json:"type"`
	Path     string `json:"path"`
	Mode     string `json:"mode"`
	User     string `json:"user"`
	Group    string `json:"group"`
	Age      string `json:"age"`
	Argument string `json:"argument"`
}

// Tmpfilesd writes a tmpfiles.d file, one directive per entry.
func Tmpfilesd(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Filename string         `json:"filename"`
		Config   []tmpfilesLine `json:"config"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range opts.Config {
		b.WriteString(c.format())
	}
	return writeConfD(args, "/usr/lib/tmpfiles.d", opts.Filename, b.String())
}

// format writes the line with "-" for every unset field that precedes a
// set one, and nothing after the last set field.
func (l tmpfilesLine) format() string {
	fields := []string{l.Mode, l.User, l.Group, l.Age, l.Argument}
	last := -1
	for i, f := range fields {
		if f != "" {
			last = i
		}
	}
	out := []string{l.Type, l.Path}
	for _, f := range fields[:last+1] {
		if f == "" {
			f = "-"
		}
		out = append(out, f)
	}
	return strings.Join(out, " ") + "\n"
}

// writeConfD writes name (a plain file name; the schema's pattern keeps
// slashes out, checked again here) into dir.
func writeConfD(args *api.Arguments, dir, name, content string) error {
	if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return fmt.Errorf("file name %q: %w", name, ErrInvalidValue)
	}
	return api.Root(args.Tree).WriteFile(dir+"/"+name, []byte(content), 0o644)
}

// ResolvConf writes /etc/resolv.conf with the search domains and name
// servers, replacing what is there (often a symlink into /run).
func ResolvConf(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Nameserver []string `json:"nameserver"`
		Search     []string `json:"search"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	lines := []string{"# This file was created by osbuild"}
	if len(opts.Search) > 0 {
		lines = append(lines, "search "+strings.Join(opts.Search, " "))
	}
	for _, ns := range opts.Nameserver {
		lines = append(lines, "nameserver "+ns)
	}
	return replaceFile(args, "/etc/resolv.conf", strings.Join(lines, "\n")+"\n")
}
