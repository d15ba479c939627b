package disk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// qemuFormat is org.osbuild.qemu's "format" (one object for all types).
type qemuFormat struct {
	Type        string `json:"type"`
	Compression *bool  `json:"compression"`
	Compat      string `json:"compat"`
	AdapterType string `json:"adapter_type"`
	Compat6     bool   `json:"compat6"`
	Subformat   string `json:"subformat"`
	ForceSize   *bool  `json:"force_size"`
}

// Qemu implements org.osbuild.qemu: qemu-img convert of the one file of
// input "image" into filename in the tree, in the given format, with
// upstream's per-format options. A qcow2 gets compat=1.1 and 64 KiB
// clusters pinned (the defaults of today's qemu-img, written down so
// that another qemu-img writes the same layout) unless the manifest
// names a compat; conversion writes in order (no -W), which keeps the
// bytes the same on every run, compressed or not.
func Qemu(ctx context.Context, args *api.Arguments) error {
	var o struct {
		Filename string     `json:"filename"`
		Format   qemuFormat `json:"format"`
	}
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	src, err := args.File("image")
	if err != nil {
		return err
	}
	dst, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	extra, err := o.Format.args()
	if err != nil {
		return err
	}
	a := append([]string{"convert", "-O", o.Format.Type}, extra...)
	return run(ctx, "qemu-img", append(a, src, dst)...)
}

func (f qemuFormat) args() ([]string, error) {
	compress := f.Compression == nil || *f.Compression
	switch f.Type {
	case "qcow2":
		compat := f.Compat
		if compat == "" {
			compat = "1.1"
		}
		a := []string{"-o", "compat=" + compat + ",cluster_size=65536"}
		if compress {
			a = append([]string{"-c"}, a...)
		}
		return a, nil
	case "vmdk":
		var a, opts []string
		if compress {
			a = append(a, "-c")
		}
		if f.AdapterType != "" {
			opts = append(opts, "adapter_type="+f.AdapterType)
		}
		if f.Compat6 {
			opts = append(opts, "compat6")
		}
		if f.Subformat != "" {
			opts = append(opts, "subformat="+f.Subformat)
		}
		if len(opts) > 0 {
			a = append(a, "-o", strings.Join(opts, ","))
		}
		return a, nil
	case "vpc":
		opts := []string{"subformat=" + or(f.Subformat, "fixed")}
		if f.ForceSize == nil || *f.ForceSize {
			opts = append(opts, "force_size")
		}
		return []string{"-o", strings.Join(opts, ",")}, nil
	case "vdi", "vhdx":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: image format %q", api.ErrInvalidArguments, f.Type)
}
