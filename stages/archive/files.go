package archive

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/tarx"
)

// Untar extracts the one file of the "file" input (tar, maybe gzip, xz,
// zstd or bzip2 compressed) into the tree under prefix.
func Untar(ctx context.Context, args *api.Arguments) error {
	var opts struct {
		Prefix string `json:"prefix"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	src, err := args.File("file")
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("untar: %w", err)
	}
	defer f.Close()
	r, err := tarx.Decompress(bufio.NewReaderSize(f, ioBufferSize))
	if err != nil {
		return fmt.Errorf("untar %s: %w", src, err)
	}
	defer r.Close()
	return tarx.Extract(ctx, r, api.Root(args.Tree), tarx.Options{Prefix: opts.Prefix, Owners: os.Geteuid() == 0})
}

// Xz compresses the "file" input into filename in the tree with the
// dictionary of upstream's `xz -0` (Go's xz writer has no presets; the
// format is the same, the bytes are not).
func Xz(_ context.Context, args *api.Arguments) error {
	return compressInput(args, compressXz, 0)
}

// Zstd compresses the "file" input into filename, at zstd's fastest level
// as upstream's `zstd -1`.
func Zstd(_ context.Context, args *api.Arguments) error {
	return compressInput(args, compressZstd, 1)
}

// Gzip compresses the "file" input into filename at level (default 1),
// like `gzip --no-name`.
func Gzip(_ context.Context, args *api.Arguments) error {
	return compressInput(args, compressGzip, 1)
}

type compressOptions struct {
	Filename string `json:"filename"`
	Level    int    `json:"level"`
}

func compressInput(args *api.Arguments, kind string, level int) error {
	var opts compressOptions
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if kind == compressGzip && opts.Level != 0 {
		level = opts.Level
	} else if opts.Level != 0 {
		return fmt.Errorf("%w: %s takes no level", api.ErrInvalidArguments, kind)
	}
	src, err := args.File("file")
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	defer in.Close()
	return writeCompressed(api.Root(args.Tree), opts.Filename, kind, level, bufio.NewReaderSize(in, ioBufferSize))
}

func writeCompressed(out api.Root, name, kind string, level int, src io.Reader) error {
	host, err := out.Resolve(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer f.Close()
	return writeBuffered(f, name, kind, level, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
}
