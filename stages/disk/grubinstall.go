package disk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// grubInstallOptions are org.osbuild.grub2.install's options.
type grubInstallOptions struct {
	// Root is the file system that holds the configuration.
	Root struct {
		UUID string `json:"uuid"`
		Path string `json:"path"`
	} `json:"root"`
	// EFI is the ESP (a partition of the device, from 1).
	EFI *struct {
		Partition int `json:"partition"`
	} `json:"efi"`
	// BIOS is the BIOS boot partition; only x86 has BIOS.
	BIOS *struct {
		Partition int `json:"partition"`
	} `json:"bios"`
}

// grubPlatforms are GRUB's EFI platform and the removable-media loader's
// name on the ESP, per architecture (the UEFI specification's
// \EFI\BOOT\BOOT<arch>.EFI), and whether it has BIOS.
var grubPlatforms = map[string]struct {
	efi, loader string
	bios        bool
}{
	"amd64": {"x86_64-efi", "BOOTX64.EFI", true},
	"arm64": {"arm64-efi", "BOOTAA64.EFI", false},
}

// grubModules are built into every image, so that nothing is read from
// module directories at boot: find the configuration's file system by
// UUID on a GPT or MBR disk, read it, and boot a Linux kernel from it
// with a serial console.
var grubModules = []string{
	"part_gpt", "part_msdos", "fat", "ext2", "search", "search_fs_uuid", "configfile",
	"normal", "linux", "echo", "test", "gzio", "serial", "terminal", "sleep", "reboot", "halt",
}

// GrubInstall implements org.osbuild.grub2.install (ours): GRUB for the
// build root's architecture into the disk on device "disk", as Debian's
// grub-install --removable would, from the build root's GRUB: on the ESP
// the removable-media loader (\EFI\BOOT\BOOTX64.EFI or BOOTAA64.EFI, so
// that firmware boots it without an NVRAM entry), and on x86 with "bios"
// also the BIOS core in the BIOS boot partition and boot.img in the MBR.
// Each image carries the modules it needs and a configuration that finds
// the root file system by UUID and reads <path>/grub.cfg from it.
// grub-mkimage gives the same bytes for the same input; the ESP is
// written with mtools (see fatPopulate).
//
// One manifest serves amd64 and arm64: "bios" is ignored where there is no
// BIOS.
func GrubInstall(ctx context.Context, args *api.Arguments) error {
	var o grubInstallOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	plat, ok := grubPlatforms[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("grub2.install: no GRUB platform for %s", runtime.GOARCH)
	}
	dev, err := devicePath(args, "disk")
	if err != nil {
		return err
	}
	cfg, err := embeddedConfig(o.Root.UUID, o.Root.Path)
	if err != nil {
		return err
	}
	defer os.Remove(cfg)
	if o.EFI != nil {
		if err := installEFI(ctx, dev, o.EFI.Partition, plat.efi, plat.loader, cfg); err != nil {
			return err
		}
	}
	if o.BIOS != nil && plat.bios {
		return installBIOS(ctx, dev, o.BIOS.Partition, cfg)
	}
	return nil
}

// embeddedConfig writes the configuration every image carries: find the
// root file system, then read its grub.cfg.
func embeddedConfig(uuid, dir string) (string, error) {
	if uuid == "" || strings.ContainsAny(uuid, " \n\"'") {
		return "", fmt.Errorf("%w: root uuid %q", api.ErrInvalidArguments, uuid)
	}
	if dir == "" {
		dir = "/boot/grub"
	}
	if !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, " \n\"'$") {
		return "", fmt.Errorf("%w: root path %q", api.ErrInvalidArguments, dir)
	}
	f, err := os.CreateTemp("", "grub-embedded-*.cfg")
	if err != nil {
		return "", err
	}
	defer f.Close()
	fmt.Fprintf(f, "search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)%s\nconfigfile $prefix/grub.cfg\n", uuid, dir)
	return f.Name(), nil
}

// mkimage runs grub-mkimage for a platform with the embedded config.
func mkimage(ctx context.Context, platform, format, cfg, out string, extra ...string) error {
	mods := append(append([]string{}, grubModules...), extra...)
	return run(ctx, "grub-mkimage", append([]string{"--directory", "/usr/lib/grub/" + platform, "--prefix", "",
		"--config", cfg, "--format", format, "--compression", "auto", "--output", out}, mods...)...)
}

func installEFI(ctx context.Context, dev string, part int, platform, loader, cfg string) error {
	esp, err := partitionNode(dev, part)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "grub-efi-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	img := filepath.Join(tmp, "EFI", "BOOT", loader)
	if err := os.MkdirAll(filepath.Dir(img), 0o755); err != nil {
		return err
	}
	if err := mkimage(ctx, platform, platform, cfg, img, "all_video"); err != nil {
		return err
	}
	return fatAdd(ctx, esp, tmp)
}

// fatAdd copies a tree into an existing FAT file system, making only the
// directories it lacks.
func fatAdd(ctx context.Context, dev, root string) error {
	entries, err := fatEntries(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		dst := "::/" + e.rel
		switch {
		case e.dir && mtool(ctx, "mdir", "-i", dev, "-b", dst) == nil:
			continue // there already
		case e.dir:
			err = mtool(ctx, "mmd", "-i", dev, dst)
		default:
			err = mtool(ctx, "mcopy", "-i", dev, "-o", filepath.Join(root, e.rel), dst)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// installBIOS writes a BIOS core into the BIOS boot partition and
// boot.img into the MBR, pointing at it.
func installBIOS(ctx context.Context, dev string, part int, cfg string) error {
	start, size, err := partitionExtent(dev, part)
	if err != nil {
		return err
	}
	core, err := os.CreateTemp("", "grub-core-*.img")
	if err != nil {
		return err
	}
	core.Close()
	defer os.Remove(core.Name())
	if err := mkimage(ctx, "i386-pc", "i386-pc", cfg, core.Name(), "biosdisk"); err != nil {
		return err
	}
	fi, err := os.Stat(core.Name())
	if err != nil {
		return err
	}
	if fi.Size() > size*512 {
		return fmt.Errorf("grub core is %d bytes; BIOS boot partition %d holds %d", fi.Size(), part, size*512)
	}
	return patchCore(dev, core.Name(), "i386-pc", start, 512)
}

// partitionNode is the node of partition n of dev (/dev/loop0p2).
func partitionNode(dev string, n int) (string, error) {
	node := fmt.Sprintf("%sp%d", dev, n)
	if _, err := os.Stat(node); err != nil {
		return "", fmt.Errorf("%w: %s has no partition %d (set partscan on the device)", api.ErrInvalidArguments, dev, n)
	}
	return node, nil
}

// partitionExtent reads partition n's start and size (in 512-byte
// sectors) from sysfs.
func partitionExtent(dev string, n int) (int64, int64, error) {
	if _, err := partitionNode(dev, n); err != nil {
		return 0, 0, err
	}
	dir := fmt.Sprintf("/sys/class/block/%sp%d", filepath.Base(dev), n)
	read := func(name string) (int64, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	start, err := read("start")
	if err != nil {
		return 0, 0, fmt.Errorf("partition %d of %s: %w", n, dev, err)
	}
	size, err := read("size")
	if err != nil {
		return 0, 0, fmt.Errorf("partition %d of %s: %w", n, dev, err)
	}
	return start, size, nil
}
