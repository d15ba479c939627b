package disk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// xorrisofsOptions are org.osbuild.xorrisofs's options.
type xorrisofsOptions struct {
	Filename  string   `json:"filename"`
	VolID     string   `json:"volid"`
	SysID     string   `json:"sysid"`
	Pub       string   `json:"pub"`
	AppID     string   `json:"appid"`
	Prep      string   `json:"prep"`
	VolSet    string   `json:"volset"`
	EFI       string   `json:"efi"`
	Grub2MBR  string   `json:"grub2mbr"`
	IsoHybrid string   `json:"isohybridmbr"`
	IsoLevel  int      `json:"isolevel"`
	Exclude   []string `json:"exclude"`
	Boot      *struct {
		Image      string `json:"image"`
		Catalog    string `json:"catalog"`
		NoBootInfo bool   `json:"nobootinfo"`
	} `json:"boot"`
	RationalRock  bool `json:"rational_rock"`
	Untranslated  bool `json:"untranslated_filenames"`
	FullFilenames bool `json:"full_filenames"`
	ChrpBoot      bool `json:"chrp_boot"`
}

// Xorrisofs implements org.osbuild.xorrisofs: an ISO 9660 image of the
// "tree" input with the build root's xorrisofs, in upstream's three
// layouts: GRUB (grub2mbr: GRUB's hybrid MBR, the EFI image appended as a
// GPT partition and booted from it), isolinux (no grub2mbr), or CHRP for
// ppc64le. Ours: the volume and every file are dated with the pipeline's
// source-epoch (xorriso takes SOURCE_DATE_EPOCH for the volume but keeps
// file times otherwise), so the image is the same bytes on every run.
func Xorrisofs(ctx context.Context, args *api.Arguments) error {
	var o xorrisofsOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	tree, err := args.TreeInput("tree")
	if err != nil {
		return err
	}
	out, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	a := append(o.common(), dates(args)...)
	switch {
	case o.ChrpBoot:
		if o.EFI != "" {
			return fmt.Errorf("%w: UEFI is not supported on PPC64LE", api.ErrInvalidArguments)
		}
		a = append(a, o.chrp()...)
	case o.Grub2MBR != "":
		if _, err := os.Stat(o.Grub2MBR); err != nil {
			return fmt.Errorf("%s is missing from the build root (install grub-pc-bin)", o.Grub2MBR)
		}
		a = append(a, o.grub2(string(tree))...)
	default:
		a = append(a, o.isolinux()...)
	}
	for _, e := range o.Exclude {
		a = append(a, "-exclude", e)
	}
	return run(ctx, "xorrisofs", append(a, "-o", out, string(tree))...)
}

func (o *xorrisofsOptions) common() []string {
	a := []string{"-verbose", "-rock", "-joliet"}
	if o.IsoLevel > 0 {
		a = append(a, "-iso-level", fmt.Sprint(o.IsoLevel))
	}
	a = append(a, "-V", o.VolID)
	for _, f := range []struct{ flag, v string }{{"-sysid", o.SysID}, {"-publisher", o.Pub}, {"-appid", o.AppID}, {"-preparer", o.Prep}} {
		if f.v != "" {
			a = append(a, f.flag, f.v)
		}
	}
	return a
}

func (o *xorrisofsOptions) grub2(tree string) []string {
	a := []string{"--grub2-mbr", o.Grub2MBR}
	if o.EFI != "" {
		a = append(a, "-partition_offset", "16", "-appended_part_as_gpt",
			"-append_partition", "2", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", filepath.Join(tree, strings.TrimLeft(o.EFI, "/")))
	}
	a = append(a, "-iso_mbr_part_type", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7")
	if o.Boot != nil {
		a = append(a, "-b", o.Boot.Image, "-c", o.Boot.Catalog, "--boot-catalog-hide", "-no-emul-boot", "-boot-load-size", "4")
		if !o.Boot.NoBootInfo {
			a = append(a, "-boot-info-table", "--grub2-boot-info")
		}
		if o.EFI != "" {
			a = append(a, "-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::")
		}
	}
	return append(a, "-no-emul-boot")
}

func (o *xorrisofsOptions) isolinux() []string {
	var a []string
	if o.IsoHybrid != "" {
		a = append(a, "-isohybrid-mbr", o.IsoHybrid)
	}
	if o.Boot != nil {
		a = append(a, "-b", o.Boot.Image, "-c", o.Boot.Catalog, "--boot-catalog-hide", "-boot-load-size", "4")
		if !o.Boot.NoBootInfo {
			a = append(a, "-boot-info-table")
		}
		a = append(a, "-no-emul-boot")
	}
	if o.EFI != "" {
		a = append(a, "-eltorito-alt-boot", "-e", o.EFI, "-no-emul-boot")
		if o.IsoHybrid != "" {
			a = append(a, "-isohybrid-gpt-basdat")
		}
	}
	return a
}

func (o *xorrisofsOptions) chrp() []string {
	var a []string
	if o.RationalRock {
		a = append(a, "-rational-rock")
	}
	if o.Untranslated {
		a = append(a, "-untranslated-filenames")
	}
	if o.FullFilenames {
		a = append(a, "-full-iso9660-filenames")
	}
	if o.VolSet != "" {
		a = append(a, "-volset", o.VolSet, "-volset-size", "1", "-volset-seqno", "1")
	}
	return append(a, "-chrp-boot")
}

// dates are xorriso's options that take every date of the image from the
// source epoch: the volume's (which GRUB reads as the ISO's UUID,
// isoUUID) and each file's.
func dates(args *api.Arguments) []string {
	if args.SourceEpoch == nil {
		return nil
	}
	return []string{"--modification-date=" + args.SourceEpoch.UTC().Format("20060102150405") + "00",
		"--set_all_file_dates", fmt.Sprintf("=%d", args.SourceEpoch.Unix())}
}
