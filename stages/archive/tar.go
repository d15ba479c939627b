package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

type tarOptions struct {
	Filename     string   `json:"filename"`
	Format       string   `json:"format"`
	Compression  string   `json:"compression"`
	ACLs         *bool    `json:"acls"`
	SELinux      *bool    `json:"selinux"`
	XAttrs       *bool    `json:"xattrs"`
	RootNode     string   `json:"root-node"`
	Paths        []string `json:"paths"`
	Sparse       bool     `json:"sparse"`
	Transform    string   `json:"transform"`
	NumericOwner bool     `json:"numeric-owner"`
}

// formats maps the tar stage's format names to Go's writer formats. Go
// writes neither v7 nor oldgnu; ustar and gnu are their closest kin.
var formats = map[string]tar.Format{
	"": tar.FormatGNU, "gnu": tar.FormatGNU, "oldgnu": tar.FormatGNU,
	"posix": tar.FormatPAX, "ustar": tar.FormatUSTAR, "v7": tar.FormatUSTAR,
}

// Tar (the v2 org.osbuild.tar stage) archives the "tree" input into the
// file named by filename in the output tree. Owners are always numeric:
// names would come from the build host's view, not the tree's.
func Tar(ctx context.Context, args *api.Arguments) error {
	var opts tarOptions
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	input, err := args.TreeInput("tree")
	if err != nil {
		return err
	}
	kind, err := tarCompression(opts)
	if err != nil {
		return err
	}
	cfg, err := opts.writerConfig(args)
	if err != nil {
		return err
	}
	return writeArchive(api.Root(args.Tree), opts.Filename, kind, func(w io.Writer) error {
		return archiveTree(ctx, w, cfg, input, opts)
	})
}

func tarCompression(opts tarOptions) (string, error) {
	if opts.Compression == "" || opts.Compression == "auto" {
		return byFilename(opts.Filename)
	}
	return checkKind(opts.Compression)
}

func (o tarOptions) writerConfig(args *api.Arguments) (writerConfig, error) {
	format, ok := formats[o.Format]
	if !ok {
		return writerConfig{}, fmt.Errorf("tar format %q: %w", o.Format, ErrUnsupported)
	}
	cfg := writerConfig{
		format:  format,
		clamp:   args.SourceEpoch,
		acls:    o.ACLs == nil || *o.ACLs,
		selinux: o.SELinux == nil || *o.SELinux,
		xattrs:  o.XAttrs == nil || *o.XAttrs,
	}
	if o.Transform != "" {
		t, err := parseTransform(o.Transform)
		if err != nil {
			return writerConfig{}, err
		}
		cfg.transform = t
	}
	return cfg, nil
}

// archiveTree writes the tree: "./" and everything under it (root-node
// include, the default), the top-level entries without "./" (omit), or
// exactly the given paths in their order.
func archiveTree(ctx context.Context, w io.Writer, cfg writerConfig, root api.Root, opts tarOptions) error {
	tw := newTreeWriter(ctx, w, cfg)
	var err error
	switch {
	case len(opts.Paths) > 0:
		err = addPaths(tw, root, opts.Paths)
	case opts.RootNode == "omit":
		err = addTopLevel(tw, root)
	default:
		err = tw.add(string(root), ".")
	}
	if err != nil {
		return err
	}
	return tw.close()
}

func addPaths(tw *treeWriter, root api.Root, paths []string) error {
	for _, p := range paths {
		host, err := root.ResolveParent(p)
		if err != nil {
			return err
		}
		if err := tw.add(host, path.Clean(p)); err != nil {
			return err
		}
	}
	return nil
}

func addTopLevel(tw *treeWriter, root api.Root) error {
	entries, err := os.ReadDir(string(root))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := tw.add(root.Join(e.Name()), e.Name()); err != nil {
			return err
		}
	}
	return nil
}

// writeArchive creates name in the output tree and streams fill's bytes
// into it through the compression.
func writeArchive(out api.Root, name, kind string, fill func(io.Writer) error) error {
	host, err := out.Resolve(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer f.Close()
	return writeBuffered(f, name, kind, defaultLevel, fill)
}

// ioBufferSize is the buffer between files and (de)compressors: Go's xz
// reads and writes in small pieces and runs several times slower on an
// unbuffered file.
const ioBufferSize = 1 << 20

// writeBuffered streams fill's bytes through the compression and a buffer
// into f, then closes f.
func writeBuffered(f *os.File, name, kind string, level int, fill func(io.Writer) error) error {
	bw := bufio.NewWriterSize(f, ioBufferSize)
	cw, err := compressor(kind, bw, level)
	if err != nil {
		return err
	}
	if err := fill(cw); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
