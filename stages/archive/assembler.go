package archive

import (
	"context"
	"io"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// TarAssembler is the v1 org.osbuild.tar assembler: the "tree" input as
// filename in the output directory (the arguments' tree), compressed with
// the named program if any. Only gzip and xz have Go writers here.
func TarAssembler(ctx context.Context, args *api.Arguments) error {
	var opts struct {
		Filename    string `json:"filename"`
		Compression string `json:"compression"`
		ACLs        *bool  `json:"acls"`
		SELinux     *bool  `json:"selinux"`
		XAttrs      *bool  `json:"xattrs"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	input, err := args.TreeInput("tree")
	if err != nil {
		return err
	}
	kind, err := checkKind(opts.Compression)
	if err != nil {
		return err
	}
	v2 := tarOptions{Filename: opts.Filename, ACLs: opts.ACLs, SELinux: opts.SELinux, XAttrs: opts.XAttrs}
	cfg, err := v2.writerConfig(args)
	if err != nil {
		return err
	}
	return writeArchive(api.Root(args.Tree), opts.Filename, kind, func(w io.Writer) error {
		return archiveTree(ctx, w, cfg, input, v2)
	})
}
