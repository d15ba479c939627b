package disk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// RawfsAssembler implements v1's org.osbuild.rawfs assembler: the tree as
// one file system image of size bytes, made by mkfs with the tree as its
// content (mkfsAt), never mounted.
func RawfsAssembler(ctx context.Context, args *api.Arguments) error {
	var o struct {
		Filename   string `json:"filename"`
		RootFSUUID string `json:"root_fs_uuid"`
		Size       int64  `json:"size"`
		FSType     string `json:"fs_type"`
	}
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	tree, err := args.TreeInput("tree")
	if err != nil {
		return err
	}
	out, err := newImage(args, o.Filename, o.Size)
	if err != nil {
		return err
	}
	return mkfsAt(ctx, out, 0, o.Size, fsSpec{Type: or(o.FSType, "ext4"), UUID: o.RootFSUUID}, string(tree))
}

// newImage makes filename in the output tree, an empty sparse file of
// size bytes.
func newImage(args *api.Arguments, filename string, size int64) (string, error) {
	if size <= 0 || size%512 != 0 {
		return "", fmt.Errorf("%w: size %d must be a positive multiple of the sector size (512)", api.ErrInvalidArguments, size)
	}
	out, err := api.Root(args.Tree).Resolve(filename)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return out, f.Truncate(size)
}

// fsSpec is one file system of a v1 assembler.
type fsSpec struct {
	Type       string `json:"type"`
	UUID       string `json:"uuid"`
	Label      string `json:"label"`
	Mountpoint string `json:"mountpoint"`
}

// mkfsAt makes a file system at [offset, offset+size) of the file image
// holding the tree at root: mke2fs -d for ext4, mkfs.fat and mtools for
// vfat, mkfs.btrfs --rootdir for btrfs (whole files only). These need no
// mount and give the same bytes on every run, unlike upstream's copy into
// a kernel mount. XFS cannot be made from a directory with trixie's
// xfsprogs.
func mkfsAt(ctx context.Context, image string, offset, size int64, fs fsSpec, root string) error {
	switch fs.Type {
	case "ext4":
		if err := fitsIn(root, size, image); err != nil {
			return err
		}
		ext := "hash_seed=" + fs.UUID
		if offset > 0 {
			ext += fmt.Sprintf(",offset=%d", offset)
		}
		a := []string{"-U", fs.UUID, "-E", ext, "-d", root}
		if fs.Label != "" {
			a = append(a, "-L", fs.Label)
		}
		return run(ctx, "mkfs.ext4", append(a, image, fmt.Sprintf("%dk", size/1024))...)
	case "vfat":
		a := []string{"-i", strings.ReplaceAll(fs.UUID, "-", ""), "--offset", fmt.Sprint(offset / 512)}
		if fs.Label != "" {
			a = append(a, "-n", fs.Label)
		}
		if err := run(ctx, "mkfs.fat", append(a, image, fmt.Sprint(size/1024))...); err != nil {
			return err
		}
		return fatPopulate(ctx, fmt.Sprintf("%s@@%d", image, offset), root, "")
	case "btrfs":
		if offset != 0 {
			return fmt.Errorf("%w: btrfs is made only as a whole file here, not in a partition", api.ErrInvalidArguments)
		}
		a := []string{"-U", fs.UUID, "--rootdir", root}
		if fs.Label != "" {
			a = append(a, "-L", fs.Label)
		}
		return run(ctx, "mkfs.btrfs", append(a, image)...)
	}
	return fmt.Errorf("%w: file system %q cannot be made from a tree without a mount here (ext4, vfat and btrfs can)", api.ErrInvalidArguments, fs.Type)
}

// qemuAsmOptions are v1's org.osbuild.qemu assembler options.
type qemuAsmOptions struct {
	Format        string         `json:"format"`
	Filename      string         `json:"filename"`
	Size          int64          `json:"size"`
	PTUUID        string         `json:"ptuuid"`
	PTType        string         `json:"pttype"`
	RootFSUUID    string         `json:"root_fs_uuid"`
	RootFSType    string         `json:"root_fs_type"`
	QCOW2Compat   string         `json:"qcow2_compat"`
	VMDKSubformat string         `json:"vmdk_subformat"`
	Partitions    []asmPartition `json:"partitions"`
	Bootloader    struct {
		Type     string `json:"type"`
		Platform string `json:"platform"`
	} `json:"bootloader"`
}

type asmPartition struct {
	sfdiskPartition
	Filesystem *fsSpec `json:"filesystem"`
}

// QemuAssembler implements v1's org.osbuild.qemu assembler: a partitioned
// disk image of the tree, with GRUB for BIOS (or Open Firmware) as
// upstream installs it, converted to format. The partition table is
// written by sfdisk into the file, each file system is made holding its
// part of the tree (mkfsAt: the tree below its mount point, without what
// file systems mounted deeper hold), with no loop device and no mount.
func QemuAssembler(ctx context.Context, args *api.Arguments) error {
	var o qemuAsmOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	tree, err := args.TreeInput("tree")
	if err != nil {
		return err
	}
	o.legacyLayout()
	raw, err := newImage(args, "."+o.Filename+".raw", o.Size)
	if err != nil {
		return err
	}
	defer os.Remove(raw)
	if err := o.partition(ctx, raw); err != nil {
		return err
	}
	if o.Bootloader.Type == "grub2" || o.Bootloader.Type == "" && o.PTType == "dos" {
		if err := o.installGrub(ctx, raw); err != nil {
			return err
		}
	} else if o.Bootloader.Type == "zipl" {
		return fmt.Errorf("%w: zipl is for s390x, which osbuild-vm does not build", api.ErrInvalidArguments)
	}
	if err := o.filesystems(ctx, raw, string(tree), args); err != nil {
		return err
	}
	return o.convert(ctx, args, raw)
}

// legacyLayout fills in upstream's layout for options without partitions:
// MBR with one bootable Linux partition holding the root file system.
func (o *qemuAsmOptions) legacyLayout() {
	if o.PTType == "" || o.PTType == "mbr" {
		o.PTType = "dos"
	}
	if o.Partitions == nil {
		o.Partitions = []asmPartition{{sfdiskPartition: sfdiskPartition{Bootable: true, Type: "83"},
			Filesystem: &fsSpec{Type: or(o.RootFSType, "ext4"), UUID: o.RootFSUUID, Mountpoint: "/"}}}
	}
}

// partition writes the table into the file, then reads back where sfdisk
// put the partitions it placed.
func (o *qemuAsmOptions) partition(ctx context.Context, raw string) error {
	t := sfdiskOptions{Label: o.PTType, UUID: o.PTUUID}
	for _, p := range o.Partitions {
		q := p.sfdiskPartition
		q.PartNum, q.Attrs = 0, nil
		t.Partitions = append(t.Partitions, q)
	}
	if err := t.fits(o.Size); err != nil {
		return err
	}
	if err := runInput(ctx, strings.NewReader(t.script(raw)), "sfdisk", "-q", raw); err != nil {
		return err
	}
	out, err := output(ctx, "sfdisk", "--json", raw)
	if err != nil {
		return err
	}
	var table struct {
		PartitionTable struct {
			Partitions []struct {
				Start int64 `json:"start"`
				Size  int64 `json:"size"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &table); err != nil || len(table.PartitionTable.Partitions) != len(o.Partitions) {
		return fmt.Errorf("sfdisk --json: %d partitions read back, want %d (%v)", len(table.PartitionTable.Partitions), len(o.Partitions), err)
	}
	for i, p := range table.PartitionTable.Partitions {
		o.Partitions[i].Start, o.Partitions[i].Size = p.Start, p.Size
	}
	return nil
}

// filesystems makes each partition's file system, shallow mount points
// first as upstream mounts them.
func (o *qemuAsmOptions) filesystems(ctx context.Context, raw, tree string, args *api.Arguments) error {
	var parts []asmPartition
	var mounts []string
	for _, p := range o.Partitions {
		if p.Filesystem != nil {
			parts = append(parts, p)
			mounts = append(mounts, filepath.Clean("/"+p.Filesystem.Mountpoint))
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return len(parts[i].Filesystem.Mountpoint) < len(parts[j].Filesystem.Mountpoint) })
	var epoch int64
	if args.SourceEpoch != nil {
		epoch = args.SourceEpoch.Unix()
	}
	for i, p := range parts {
		mp := filepath.Clean("/" + p.Filesystem.Mountpoint)
		tmp := filepath.Join(os.TempDir(), fmt.Sprintf("view-%d", i))
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return err
		}
		view, done, err := subtreeView(tree, mp, mounts, tmp, epoch)
		if err != nil {
			return err
		}
		err = mkfsAt(ctx, raw, p.Start*512, p.Size*512, *p.Filesystem, view)
		done()
		if err != nil {
			return fmt.Errorf("file system for %s: %w", mp, err)
		}
	}
	return nil
}

// installGrub is upstream's install_grub2: a core image that finds
// /boot/grub2 on the partition holding /boot (or /), written into the
// BIOS boot partition (GPT), the MBR gap (MBR) or the PReP partition
// (powerpc-ieee1275), with boot.img in the MBR on x86.
func (o *qemuAsmOptions) installGrub(ctx context.Context, raw string) error {
	platform := or(o.Bootloader.Platform, "i386-pc")
	bootIdx := o.bootPartition()
	if bootIdx < 0 {
		return fmt.Errorf("%w: grub2: no partition holds / or /boot", api.ErrInvalidArguments)
	}
	boot := o.Partitions[bootIdx]
	rel, _ := filepath.Rel(filepath.Clean("/"+boot.Filesystem.Mountpoint), "/boot/grub2")
	label, err := grubPartLabel(o.PTType)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("(,%s%d)/%s", label, bootIdx+1, rel)
	binary := "grub2-mkimage"
	if _, err := exec.LookPath(binary); err != nil {
		binary = "grub-mkimage" // Debian's name for it
	}
	core, err := coreImage(ctx, platform, prefix, grubCore{PartLabel: o.PTType, Filesystem: boot.Filesystem.Type, Binary: binary})
	if err != nil {
		return err
	}
	defer os.Remove(core)
	fi, err := os.Stat(core)
	if err != nil {
		return err
	}
	loc, room, err := o.coreLocation(platform)
	if err != nil {
		return err
	}
	if fi.Size() > room {
		return fmt.Errorf("grub2: the core image (%d bytes) does not fit its place (%d bytes)", fi.Size(), room)
	}
	return patchCore(raw, core, platform, loc, 512)
}

// bootPartition is the index of the partition mounted at /boot, or else /.
func (o *qemuAsmOptions) bootPartition() int {
	root := -1
	for i, p := range o.Partitions {
		if p.Filesystem == nil {
			continue
		}
		switch filepath.Clean("/" + p.Filesystem.Mountpoint) {
		case "/boot":
			return i
		case "/":
			root = i
		}
	}
	return root
}

// coreLocation is where the core goes, in sectors, and how much room it
// has there.
func (o *qemuAsmOptions) coreLocation(platform string) (int64, int64, error) {
	find := func(types ...string) (sfdiskPartition, bool) {
		for _, p := range o.Partitions {
			for _, t := range types {
				if strings.EqualFold(p.Type, t) {
					return p.sfdiskPartition, true
				}
			}
		}
		return sfdiskPartition{}, false
	}
	switch {
	case platform == "powerpc-ieee1275":
		p, ok := find("41", "9E1A2D38-C612-4316-AA26-8B49521E5A8B")
		if !ok {
			return 0, 0, fmt.Errorf("%w: grub2: PReP partition missing", api.ErrInvalidArguments)
		}
		return p.Start, p.Size*512 - 512, nil
	case o.PTType == "gpt":
		p, ok := find("21686148-6449-6E6F-744E-656564454649")
		if !ok {
			return 0, 0, fmt.Errorf("%w: grub2: a GPT disk needs a BIOS boot partition", api.ErrInvalidArguments)
		}
		return p.Start, p.Size * 512, nil
	}
	return 1, o.Partitions[0].Start*512 - 512 - 1, nil // the MBR gap
}

// convert writes the raw image as filename in format.
func (o *qemuAsmOptions) convert(ctx context.Context, args *api.Arguments, raw string) error {
	out, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	switch o.Format {
	case "raw":
		return os.Rename(raw, out)
	case "raw.xz":
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd, err := command(ctx, "xz", "--keep", "--stdout", "-0", "--threads=0", raw)
		if err != nil {
			return err
		}
		cmd.Stdout = f
		return runCmd(cmd)
	}
	f := qemuFormat{Type: o.Format, Compat: o.QCOW2Compat, Subformat: o.VMDKSubformat}
	extra, err := f.args()
	if err != nil {
		return err
	}
	return run(ctx, "qemu-img", append(append([]string{"convert", "-O", o.Format}, extra...), raw, out)...)
}
