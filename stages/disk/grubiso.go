package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// isoUUID is what GRUB calls an ISO 9660 volume's UUID: its modification
// date, which Xorrisofs and GrubIsoHybrid set to the source epoch.
func isoUUID(epoch time.Time) string {
	return epoch.UTC().Format("2006-01-02-15-04-05") + "-00"
}

// GrubIsoHybrid implements org.osbuild.grub2.isohybrid (ours): a hybrid
// ISO of the "tree" input that boots GRUB for the build root's
// architecture, from a disc and from a disk (a USB stick): a UEFI El
// Torito image that is also appended as an ESP in a GPT, and on x86 a BIOS
// El Torito image with GRUB's hybrid MBR. GRUB's images are built from the
// build root with every module they need and a configuration that finds
// the ISO by its UUID (its date: the pipeline's source-epoch, required)
// and reads /boot/grub/grub.cfg from the tree (written with
// org.osbuild.grub2.cfg, rootfs.uuid being that date). The EFI image is
// made with mkfs.fat and mtools, the ISO with xorrisofs, all dated with
// the source epoch: the same bytes on every run.
func GrubIsoHybrid(ctx context.Context, args *api.Arguments) error {
	var o struct {
		Filename string `json:"filename"`
		VolID    string `json:"volid"`
	}
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	plat, ok := grubPlatforms[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("grub2.isohybrid: no GRUB platform for %s", runtime.GOARCH)
	}
	if args.SourceEpoch == nil {
		return fmt.Errorf("%w: a hybrid ISO needs the pipeline's source-epoch: it dates the volume, which names it for GRUB", api.ErrInvalidArguments)
	}
	tree, err := args.TreeInput("tree")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(string(tree), "boot/grub/grub.cfg")); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: the ISO's tree has no /boot/grub/grub.cfg (write one with org.osbuild.grub2.cfg)", api.ErrInput)
	}
	out, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "grub-iso-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cfg, err := embeddedConfig(isoUUID(*args.SourceEpoch), "/boot/grub")
	if err != nil {
		return err
	}
	defer os.Remove(cfg)
	efi, err := efiImage(ctx, tmp, plat.efi, plat.loader, cfg)
	if err != nil {
		return err
	}
	a := append([]string{"-verbose", "-rock", "-joliet", "-V", o.VolID}, dates(args)...)
	grafts := []string{"/=" + string(tree)}
	if plat.bios {
		eltorito := filepath.Join(tmp, "eltorito.img")
		if err := mkimage(ctx, "i386-pc", "i386-pc-eltorito", cfg, eltorito, "biosdisk", "iso9660"); err != nil {
			return err
		}
		a = append(a, "--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img")
		grafts = append(grafts, "/boot/grub/i386-pc/eltorito.img="+eltorito)
	}
	a = append(a, "-partition_offset", "16", "-appended_part_as_gpt",
		"-append_partition", "2", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", efi)
	if plat.bios {
		a = append(a, "-iso_mbr_part_type", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
			"-b", "boot/grub/i386-pc/eltorito.img", "-c", "boot/grub/boot.cat", "--boot-catalog-hide",
			"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "--grub2-boot-info", "-eltorito-alt-boot")
	}
	a = append(a, "-e", "--interval:appended_partition_2:all::", "-no-emul-boot", "-o", out, "-graft-points")
	return run(ctx, "xorrisofs", append(a, grafts...)...)
}

// efiImage makes a FAT image holding \EFI\BOOT\<loader>, GRUB for the EFI
// platform: the ISO's UEFI boot image and appended ESP.
func efiImage(ctx context.Context, tmp, platform, loader, cfg string) (string, error) {
	stage := filepath.Join(tmp, "esp")
	bin := filepath.Join(stage, "EFI", "BOOT", loader)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	if err := mkimage(ctx, platform, platform, cfg, bin, "iso9660", "all_video"); err != nil {
		return "", err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", err
	}
	img := filepath.Join(tmp, "efi.img")
	kib := (fi.Size()/1024 + 1024 + 1023) &^ 1023 // the loader and a MiB to spare, whole MiBs
	if err := run(ctx, "mkfs.fat", "-C", "-i", "7B7795E7", "-n", "EFIBOOT", img, fmt.Sprint(kib)); err != nil {
		return "", err
	}
	return img, fatPopulate(ctx, img, stage, "")
}
