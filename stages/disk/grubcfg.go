package disk

import (
	"context"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// grubCfgOptions are org.osbuild.grub2.cfg's options.
type grubCfgOptions struct {
	RootFS struct {
		UUID string `json:"uuid"`
	} `json:"rootfs"`
	Kernel string `json:"kernel"`
	Initrd string `json:"initrd"`
	Path   string `json:"path"`
	Config struct {
		Cmdline        string   `json:"cmdline"`
		Timeout        *int     `json:"timeout"`
		Distributor    string   `json:"distributor"`
		Serial         string   `json:"serial"`
		TerminalInput  []string `json:"terminal_input"`
		TerminalOutput []string `json:"terminal_output"`
	} `json:"config"`
}

// GrubCfg implements org.osbuild.grub2.cfg (ours): GRUB's configuration
// for a system without the Boot Loader Specification, as Debian's GRUB
// is: <path>/grub.cfg (default /boot/grub/grub.cfg) with one entry that
// finds the root file system by UUID and boots the kernel and initrd at
// the paths given, by default /vmlinuz and /initrd.img, the links
// Debian's kernel packages keep to the newest kernel (so a kernel update
// needs no new configuration). With config.serial, the terminals are
// switched only when that command finds a port. It uses only the modules
// org.osbuild.grub2.install builds into its images.
func GrubCfg(_ context.Context, args *api.Arguments) error {
	var o grubCfgOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	cfg, err := o.render()
	if err != nil {
		return err
	}
	dir := o.Path
	if dir == "" {
		dir = "/boot/grub"
	}
	root := api.Root(args.Tree)
	if _, err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return root.WriteFile(strings.TrimSuffix(dir, "/")+"/grub.cfg", []byte(cfg), 0o644)
}

// render writes the configuration; every value is checked not to break
// out of its quoting.
func (o grubCfgOptions) render() (string, error) {
	kernel, initrd := or(o.Kernel, "/vmlinuz"), or(o.Initrd, "/initrd.img")
	title := or(o.Config.Distributor, "Debian GNU/Linux")
	terms := strings.Join(append(append([]string{}, o.Config.TerminalInput...), o.Config.TerminalOutput...), " ")
	for _, v := range []string{o.RootFS.UUID, kernel, initrd, title, o.Config.Cmdline, o.Config.Serial, terms} {
		if strings.ContainsAny(v, "\n'\\") {
			return "", fmt.Errorf("%w: %q: no newlines, quotes or backslashes", api.ErrInvalidArguments, v)
		}
	}
	if o.RootFS.UUID == "" {
		return "", fmt.Errorf("%w: rootfs.uuid is required", api.ErrInvalidArguments)
	}
	timeout := 1
	if o.Config.Timeout != nil {
		timeout = *o.Config.Timeout
	}
	var b strings.Builder
	b.WriteString("# GRUB configuration written by org.osbuild.grub2.cfg\n")
	fmt.Fprintf(&b, "set default=0\nset timeout=%d\n", timeout)
	// With a serial command, the terminals are set only where it found a
	// port: GRUB for arm64 EFI has none (the firmware's console is on the
	// serial line already), and one manifest serves both.
	indent := ""
	if o.Config.Serial != "" {
		fmt.Fprintf(&b, "if %s; then\n", o.Config.Serial)
		indent = "\t"
	}
	if len(o.Config.TerminalInput) > 0 {
		fmt.Fprintf(&b, "%sterminal_input %s\n", indent, strings.Join(o.Config.TerminalInput, " "))
	}
	if len(o.Config.TerminalOutput) > 0 {
		fmt.Fprintf(&b, "%sterminal_output %s\n", indent, strings.Join(o.Config.TerminalOutput, " "))
	}
	if o.Config.Serial != "" {
		b.WriteString("fi\n")
	}
	cmdline := strings.TrimSpace("root=UUID=" + o.RootFS.UUID + " ro " + o.Config.Cmdline)
	fmt.Fprintf(&b, "\nmenuentry '%s' {\n", title)
	fmt.Fprintf(&b, "\tsearch --no-floppy --fs-uuid --set=root %s\n", o.RootFS.UUID)
	fmt.Fprintf(&b, "\techo 'Loading Linux ...'\n\tlinux %s %s\n", kernel, cmdline)
	fmt.Fprintf(&b, "\techo 'Loading initial ramdisk ...'\n\tinitrd %s\n}\n", initrd)
	return b.String(), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
