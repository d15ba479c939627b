package archive

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names, as the tar stage's "compression" option spells them.
const (
	compressNone = ""
	compressGzip = "gzip"
	compressXz   = "xz"
	compressZstd = "zstd"
)

// byFilename picks the compression GNU tar's --auto-compress would from
// the archive name. bzip2 and the lz family have no Go writer here.
func byFilename(name string) (string, error) {
	suffixes := []struct{ suffix, kind string }{
		{".tar.gz", compressGzip}, {".tgz", compressGzip}, {".taz", compressGzip},
		{".tar.xz", compressXz}, {".txz", compressXz},
		{".tar.zst", compressZstd}, {".tzst", compressZstd},
		{".tar.bz2", "bzip2"}, {".tbz", "bzip2"}, {".tbz2", "bzip2"}, {".tb2", "bzip2"},
		{".tar.lz", "lzip"}, {".tar.lzma", "lzma"}, {".tlz", "lzma"}, {".tar.lzo", "lzop"},
		{".tar.Z", "compress"}, {".taZ", "compress"}, {".tar.lz4", "lz4"},
	}
	for _, s := range suffixes {
		if strings.HasSuffix(name, s.suffix) {
			return checkKind(s.kind)
		}
	}
	return compressNone, nil
}

func checkKind(kind string) (string, error) {
	switch kind {
	case compressNone, compressGzip, compressXz, compressZstd:
		return kind, nil
	}
	return "", fmt.Errorf("compression %s: %w", kind, ErrUnsupported)
}

// nopWriteCloser leaves the underlying writer open.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// defaultLevel asks compressor for the tool's own default level.
const defaultLevel = -1

// xzDictCaps are the dictionary sizes of xz's presets 0-9, the setting
// that decides speed and ratio in Go's xz writer (it has no presets).
var xzDictCaps = [10]int{1 << 18, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 8 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20}

// compressor wraps w in the named compression at level (defaultLevel:
// the tool's default; for xz the preset). Closing it flushes the
// compressed stream, not w.
func compressor(kind string, w io.Writer, level int) (io.WriteCloser, error) {
	switch kind {
	case compressNone:
		return nopWriteCloser{w}, nil
	case compressGzip:
		return gzipWriter(w, level)
	case compressXz:
		return xzWriter(w, level)
	case compressZstd:
		return zstdWriter(w, level)
	}
	return nil, fmt.Errorf("compression %s: %w", kind, ErrUnsupported)
}

func xzWriter(w io.Writer, preset int) (io.WriteCloser, error) {
	if preset < 0 || preset > 9 {
		preset = 6
	}
	return newParallelXz(w, xz.WriterConfig{DictCap: xzDictCaps[preset]}, xzChunkSize, 0)
}

// gzipWriter writes like `gzip --no-name`: no file name and a zero mtime
// in the header, so the bytes depend only on the content.
func gzipWriter(w io.Writer, level int) (io.WriteCloser, error) {
	if level < 0 {
		level = gzip.DefaultCompression
	}
	zw, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, fmt.Errorf("gzip writer: %w", err)
	}
	zw.OS = 3 // Unix, as GNU gzip writes
	// The writer stores uint32(ModTime.Unix()) even for the zero time,
	// which is not 0: set the epoch itself, as `gzip --no-name` writes.
	zw.ModTime = time.Unix(0, 0)
	return zw, nil
}

func zstdWriter(w io.Writer, level int) (io.WriteCloser, error) {
	l := zstd.SpeedDefault
	if level > 0 {
		l = zstd.EncoderLevelFromZstd(level)
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(l))
	if err != nil {
		return nil, fmt.Errorf("zstd writer: %w", err)
	}
	return zw, nil
}
