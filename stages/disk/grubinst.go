package disk

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// grubInstOptions are org.osbuild.grub2.inst's options.
type grubInstOptions struct {
	Filename   string     `json:"filename"`
	Platform   string     `json:"platform"`
	Location   *int64     `json:"location"`
	SectorSize *int64     `json:"sector-size"`
	Core       grubCore   `json:"core"`
	Prefix     grubPrefix `json:"prefix"`
}

type grubCore struct {
	Type       string `json:"type"`
	PartLabel  string `json:"partlabel"`
	Filesystem string `json:"filesystem"`
	Binary     string `json:"binary"`
}

type grubPrefix struct {
	Type      string `json:"type"`
	PartLabel string `json:"partlabel"`
	Number    *int   `json:"number"`
	Path      string `json:"path"`
}

// GrubInst implements org.osbuild.grub2.inst as upstream does it, without
// grub-install (which needs a real device): it makes GRUB's core image
// with grub-mkimage from the build root (the modules that find the
// partition holding the configuration), writes it into the image file at
// sector "location", and on i386-pc writes boot.img's first 440 bytes
// into the MBR with the core's sector patched in, and the core's second
// sector into the core when it lies past the MBR gap (a BIOS boot
// partition). Without "location" the core image replaces the file.
func GrubInst(ctx context.Context, args *api.Arguments) error {
	var o grubInstOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	prefix, err := o.Prefix.grub()
	if err != nil {
		return err
	}
	core, err := coreImage(ctx, o.Platform, prefix, o.Core)
	if err != nil {
		return err
	}
	defer os.Remove(core)
	image, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	if o.Location == nil {
		return copyFile(core, image)
	}
	sector := int64(512)
	if o.SectorSize != nil {
		sector = *o.SectorSize
	}
	return patchCore(image, core, o.Platform, *o.Location, sector)
}

// grub is the prefix as GRUB writes it: "(,gpt3)/boot/grub" for a
// partition (numbered from zero in the options, from one in GRUB), or a
// path on the device GRUB was loaded from.
func (p grubPrefix) grub() (string, error) {
	if p.Number == nil {
		return p.Path, nil
	}
	label, err := grubPartLabel(p.PartLabel)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(,%s%d)/%s", label, *p.Number+1, strings.TrimLeft(p.Path, "/")), nil
}

func grubPartLabel(label string) (string, error) {
	switch label {
	case "gpt":
		return "gpt", nil
	case "dos", "mbr":
		return "msdos", nil
	}
	return "", fmt.Errorf("%w: unknown partition table type %q", api.ErrInvalidArguments, label)
}

// coreImage runs grub-mkimage for the core: the disk driver, the
// partition table's module and the file system's.
func coreImage(ctx context.Context, platform, prefix string, c grubCore) (string, error) {
	format, modules := platform, []string{}
	if platform == "i386-pc" {
		modules = append(modules, "biosdisk")
	}
	label, err := grubPartLabel(c.PartLabel)
	if err != nil {
		return "", err
	}
	modules = append(modules, "part_"+label)
	switch c.Filesystem {
	case "ext4":
		modules = append(modules, "ext2")
	case "xfs", "btrfs":
		modules = append(modules, c.Filesystem)
	case "iso9660":
		modules, format = append(modules, "iso9660"), "i386-pc-eltorito"
	default:
		return "", fmt.Errorf("%w: unknown boot file system %q", api.ErrInvalidArguments, c.Filesystem)
	}
	binary := c.Binary
	if binary == "" {
		binary = "grub2-mkimage"
	}
	out, err := os.CreateTemp("", "grub-core-*.img")
	if err != nil {
		return "", err
	}
	out.Close()
	err = run(ctx, binary, append([]string{"--verbose", "--directory", "/usr/lib/grub/" + platform, "--prefix", prefix,
		"--format", format, "--compression", "auto", "--output", out.Name()}, modules...)...)
	if err != nil {
		os.Remove(out.Name())
		if binary == "grub2-mkimage" {
			err = fmt.Errorf("%w (Debian calls it grub-mkimage: set core.binary)", err)
		}
		return "", err
	}
	return out.Name(), nil
}

// GRUB's boot.img (boot.S) offsets.
const (
	bootKernelSector = 0x5c       // GRUB_BOOT_MACHINE_KERNEL_SECTOR: where boot.img finds the core
	coreSecondSector = 0x200 - 12 // GRUB_BOOT_MACHINE_LIST_SIZE before the core's first sector's end
	bootCodeSize     = 440        // the MBR's code area, before the disk signature and table
)

// bootImagePath is where the build root has boot.img, per platform.
var bootImagePath = "/usr/lib/grub/%s/boot.img"

// patchCore writes the core image into image at sector location and, on
// i386-pc, boot.img into the MBR, both pointing at where the core is.
func patchCore(image, core, platform string, location, sector int64) error {
	f, err := os.OpenFile(image, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := os.Open(core)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.Copy(io.NewOffsetWriter(f, location*sector), c); err != nil {
		return fmt.Errorf("write core image: %w", err)
	}
	if platform == "i386-pc" {
		if err := writeBoot(f, platform, location, sector); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func writeBoot(f *os.File, platform string, location, sector int64) error {
	var q [8]byte
	if location*sector > 512 {
		// A core outside the MBR gap (a BIOS boot partition) must be told
		// where its second sector is.
		binary.LittleEndian.PutUint64(q[:], uint64(location+1))
		if _, err := f.WriteAt(q[:], location*sector+coreSecondSector); err != nil {
			return err
		}
	}
	boot, err := os.ReadFile(fmt.Sprintf(bootImagePath, platform))
	if err != nil {
		return fmt.Errorf("boot image: %w (install grub-pc-bin in the build root)", err)
	}
	if len(boot) < bootCodeSize {
		return fmt.Errorf("boot image: %d bytes, want 512", len(boot))
	}
	if _, err := f.WriteAt(boot[:bootCodeSize], 0); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(q[:], uint64(location))
	_, err = f.WriteAt(q[:], bootKernelSector)
	return err
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
