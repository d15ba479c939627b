// Package stages is the registry of built-in stages and assemblers: Go
// functions with osbuild's names, options and semantics, linked into one
// multi-call binary (the guest agent) so the initramfs stays small. The
// agent execs itself as /run/osbuild/bin/<name> (or
// /run/osbuild/bin/assemblers/<name>); Main then loads the arguments and
// runs the stage of that name.
//
// Each stage's options schema is in stages/meta (<name>.meta.json).
package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/osbuild-vm/osbuild-vm/stages/accounts"
	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/archive"
	"github.com/osbuild-vm/osbuild-vm/stages/deb"
	"github.com/osbuild-vm/osbuild-vm/stages/disk"
	"github.com/osbuild-vm/osbuild-vm/stages/fsops"
	"github.com/osbuild-vm/osbuild-vm/stages/sysconf"
	"github.com/osbuild-vm/osbuild-vm/stages/systemd"
)

// Stage runs one stage on the tree and inputs its arguments name. It
// returns an error instead of exiting; Main turns that into exit status 1.
type Stage func(ctx context.Context, args *api.Arguments) error

var builtin = map[string]Stage{
	"org.osbuild.noop":                 Noop,
	"org.osbuild.mkdir":                fsops.Mkdir,
	"org.osbuild.copy":                 fsops.Copy,
	"org.osbuild.ln":                   fsops.Ln,
	"org.osbuild.chmod":                fsops.Chmod,
	"org.osbuild.chown":                fsops.Chown,
	"org.osbuild.truncate":             fsops.Truncate,
	"org.osbuild.hostname":             sysconf.Hostname,
	"org.osbuild.timezone":             sysconf.Timezone,
	"org.osbuild.locale":               sysconf.Locale,
	"org.osbuild.keymap":               sysconf.Keymap,
	"org.osbuild.machine-id":           sysconf.MachineID,
	"org.osbuild.kernel-cmdline":       sysconf.KernelCmdline,
	"org.osbuild.modprobe":             sysconf.Modprobe,
	"org.osbuild.sysctld":              sysconf.Sysctld,
	"org.osbuild.tmpfilesd":            sysconf.Tmpfilesd,
	"org.osbuild.resolv-conf":          sysconf.ResolvConf,
	"org.osbuild.fstab":                sysconf.Fstab,
	"org.osbuild.users":                accounts.Users,
	"org.osbuild.groups":               accounts.Groups,
	"org.osbuild.systemd":              systemd.Systemd,
	"org.osbuild.systemd.unit.create":  systemd.UnitCreate,
	"org.osbuild.tar":                  archive.Tar,
	"org.osbuild.untar":                archive.Untar,
	"org.osbuild.xz":                   archive.Xz,
	"org.osbuild.zstd":                 archive.Zstd,
	"org.osbuild.gzip":                 archive.Gzip,
	"org.osbuild.deb.extract":          deb.Extract,
	"org.osbuild.deb.install":          deb.Install,
	"org.osbuild.deb.cleanup":          deb.Cleanup,
	"org.osbuild.apt.sources":          deb.AptSources,
	"org.osbuild.sfdisk":               disk.Sfdisk,
	"org.osbuild.sgdisk":               disk.Sgdisk,
	"org.osbuild.mkfs.ext4":            disk.MkfsExt4,
	"org.osbuild.mkfs.fat":             disk.MkfsFat,
	"org.osbuild.grub2.inst":           disk.GrubInst,
	"org.osbuild.grub2.install":        disk.GrubInstall,
	"org.osbuild.grub2.cfg":            disk.GrubCfg,
	"org.osbuild.grub2.isohybrid":      disk.GrubIsoHybrid,
	"org.osbuild.nocloud.seed":         disk.NocloudSeed,
	"org.osbuild.qemu":                 disk.Qemu,
	"org.osbuild.squashfs":             disk.Squashfs,
	"org.osbuild.xorrisofs":            disk.Xorrisofs,
	"org.osbuild.bootctl.install.root": disk.BootctlInstallRoot,
}

var assemblers = map[string]Stage{
	"org.osbuild.noop":  NoopAssembler,
	"org.osbuild.tar":   archive.TarAssembler,
	"org.osbuild.qemu":  disk.QemuAssembler,
	"org.osbuild.rawfs": disk.RawfsAssembler,
}

// Lookup returns the built-in stage called name.
func Lookup(name string) (Stage, bool) {
	s, ok := builtin[name]
	return s, ok
}

// LookupAssembler returns the built-in v1 assembler called name. Its
// options differ from the stage of the same name (org.osbuild.tar).
func LookupAssembler(name string) (Stage, bool) {
	s, ok := assemblers[name]
	return s, ok
}

// Names lists the built-in stages, sorted.
func Names() []string { return sortedNames(builtin) }

// AssemblerNames lists the built-in assemblers, sorted.
func AssemblerNames() []string { return sortedNames(assemblers) }

func sortedNames(m map[string]Stage) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Noop prints its options and inputs and changes nothing.
func Noop(_ context.Context, args *api.Arguments) error {
	fmt.Println("Not doing anything with these options:", string(orEmpty(args.Options)))
	for _, name := range sortedInputs(args.Inputs) {
		desc, _ := json.Marshal(args.Inputs[name])
		fmt.Printf("Not doing anything with Input '%s' %s\n", name, desc)
	}
	return nil
}

// NoopAssembler is the v1 no-op assembler: it produces no output.
func NoopAssembler(_ context.Context, args *api.Arguments) error {
	fmt.Println("Not doing anything with these options:", string(orEmpty(args.Options)))
	return nil
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

func sortedInputs(m map[string]api.Input) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
