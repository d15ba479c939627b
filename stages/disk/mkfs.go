package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ext4Options are org.osbuild.mkfs.ext4's options.
type ext4Options struct {
	UUID             string `json:"uuid"`
	Label            string `json:"label"`
	LazyInit         *bool  `json:"lazy_init"`
	MetadataCsumSeed *bool  `json:"metadata_csum_seed"`
	OrphanFile       *bool  `json:"orphan_file"`
	Verity           *bool  `json:"verity"`
}

// MkfsExt4 implements org.osbuild.mkfs.ext4: mkfs.ext4 on the device
// "device" with the manifest's UUID. The directory hash seed is that UUID
// too (mke2fs would draw a random one), and mke2fs takes its time stamps
// from SOURCE_DATE_EPOCH, so the same options make the same bytes.
//
// Ours: with a "root" tree input, the file system is made holding that
// tree (mke2fs -d: owners, modes, xattrs, hard links, device nodes and
// sparse files as they are), which needs no mount and, unlike copying into
// a mounted file system, gives the same bytes on every run.
func MkfsExt4(ctx context.Context, args *api.Arguments) error {
	var o ext4Options
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	dev, err := devicePath(args, "device")
	if err != nil {
		return err
	}
	root, hasRoot := args.Inputs["root"]
	if hasRoot {
		if err := treeFits(root.Path, dev); err != nil {
			return err
		}
	}
	cmd := append(o.args(), dev)
	if hasRoot {
		cmd = append([]string{"-d", root.Path}, cmd...)
	}
	if err := run(ctx, "mkfs.ext4", cmd...); err != nil {
		if hasRoot {
			return fmt.Errorf("%w (if the tree does not fit, give the file system more room)", err)
		}
		return err
	}
	return nil
}

// args are mkfs.ext4's options. mke2fs honours only its last -E, so the
// extended options go into one (upstream's stage passes two, of which
// lazy_itable_init is lost).
func (o ext4Options) args() []string {
	a := []string{"-U", o.UUID}
	if o.Label != "" {
		a = append(a, "-L", o.Label)
	}
	ext := []string{"hash_seed=" + o.UUID}
	if o.LazyInit != nil {
		n := map[bool]string{true: "1", false: "0"}[*o.LazyInit]
		ext = append(ext, "lazy_itable_init="+n, "lazy_journal_init="+n)
	}
	a = append(a, "-E", strings.Join(ext, ","))
	for _, f := range []struct {
		name string
		on   *bool
	}{{"verity", o.Verity}, {"orphan_file", o.OrphanFile}, {"metadata_csum_seed", o.MetadataCsumSeed}} {
		if f.on == nil {
			continue
		}
		if *f.on {
			a = append(a, "-O", f.name)
		} else {
			a = append(a, "-O", "^"+f.name)
		}
	}
	return a
}

// treeFits refuses a tree whose files alone are larger than the device,
// before mkfs spends minutes finding out.
func treeFits(root, dev string) error {
	size, err := deviceSize(dev)
	if err != nil {
		return err
	}
	return fitsIn(root, size, dev)
}

// fitsIn refuses a tree whose files alone are larger than size bytes.
func fitsIn(root string, size int64, where string) error {
	need, files, err := treeSize(root)
	if err != nil {
		return err
	}
	if need > size {
		return fmt.Errorf("%w: the tree (%d MiB in %d files) does not fit in %s (%d MiB): give the partition more room",
			api.ErrInvalidArguments, need>>20, files, where, size>>20)
	}
	return nil
}

// treeSize adds up the tree's regular files in 4 KiB blocks, and counts
// its entries.
func treeSize(root string) (int64, int64, error) {
	var total, n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n++
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += (fi.Size() + 4095) &^ 4095
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, fmt.Errorf("%w: input root: %w", api.ErrInput, err)
	}
	return total, n, err
}

// fatOptions are org.osbuild.mkfs.fat's options.
type fatOptions struct {
	VolID    string `json:"volid"`
	Label    string `json:"label"`
	FatSize  int    `json:"fat-size"`
	Geometry *struct {
		Heads   int `json:"heads"`
		Sectors int `json:"sectors-per-track"`
	} `json:"geometry"`
}

// MkfsFat implements org.osbuild.mkfs.fat: mkfs.fat on the device
// "device" with the manifest's volume id, as upstream does (-I: a whole
// device is fine).
//
// Ours: with a "root" tree input, its files are then copied in with
// mtools (see fatPopulate), which gives the same bytes on every run,
// unlike a kernel mount.
func MkfsFat(ctx context.Context, args *api.Arguments) error {
	var o fatOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	dev, err := devicePath(args, "device")
	if err != nil {
		return err
	}
	a := []string{"-I", "-i", o.VolID}
	if o.Label != "" {
		a = append(a, "-n", o.Label)
	}
	if o.FatSize != 0 {
		a = append(a, "-F", fmt.Sprint(o.FatSize))
	}
	if o.Geometry != nil {
		a = append(a, "-g", fmt.Sprintf("%d/%d", o.Geometry.Heads, o.Geometry.Sectors))
	}
	if err := run(ctx, "mkfs.fat", append(a, dev)...); err != nil {
		return err
	}
	root, ok := args.Inputs["root"]
	if !ok {
		return nil
	}
	return fatPopulate(ctx, dev, root.Path, "")
}
