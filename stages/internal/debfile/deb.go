// Package debfile reads the data archive out of a Debian binary package
// (an ar archive of debian-binary, control.tar.* and data.tar.*), so a
// build root can be made from .debs with no dpkg in the guest.
package debfile

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/blakesmith/ar"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrNotDeb marks input that is not a Debian binary package we can read.
var ErrNotDeb = errors.New("not a Debian binary package")

// maxVersionSize bounds the debian-binary member ("2.0\n").
const maxVersionSize = 64

// DataTar finds the data.tar member of the .deb read from r and returns
// the uncompressed tar stream, positioned at its start. It reads r only up
// to the end of that member. Close releases decoder resources.
func DataTar(r io.Reader) (io.ReadCloser, error) {
	arr := ar.NewReader(r)
	sawVersion := false
	for {
		hdr, err := nextMember(arr)
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: no data.tar member", ErrNotDeb)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotDeb, err)
		}
		name := strings.TrimSuffix(strings.TrimSpace(hdr.Name), "/")
		if !sawVersion {
			if err := checkVersion(name, arr, hdr.Size); err != nil {
				return nil, err
			}
			sawVersion = true
			continue
		}
		if strings.HasPrefix(name, "data.tar") {
			return decompress(name, io.LimitReader(arr, hdr.Size))
		}
	}
}

// nextMember is ar.Reader.Next made safe for hostile input: the library
// slices header fields without checking them and panics on some malformed
// headers (a mode field of spaces), so a panic there becomes ErrNotDeb.
func nextMember(arr *ar.Reader) (hdr *ar.Header, err error) {
	defer func() {
		if r := recover(); r != nil {
			hdr, err = nil, fmt.Errorf("%w: malformed ar header", ErrNotDeb)
		}
	}()
	hdr, err = arr.Next()
	if err == nil && hdr.Size < 0 {
		return nil, fmt.Errorf("%w: negative member size", ErrNotDeb)
	}
	return hdr, err
}

// checkVersion requires the first member to be debian-binary of a 2.x
// format, as dpkg-deb does.
func checkVersion(name string, r io.Reader, size int64) error {
	if name != "debian-binary" || size > maxVersionSize {
		return fmt.Errorf("%w: first member is %q", ErrNotDeb, name)
	}
	v, err := io.ReadAll(io.LimitReader(r, maxVersionSize))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotDeb, err)
	}
	if !strings.HasPrefix(string(v), "2.") {
		return fmt.Errorf("%w: format version %q", ErrNotDeb, strings.TrimSpace(string(v)))
	}
	return nil
}

func decompress(name string, r io.Reader) (io.ReadCloser, error) {
	switch name {
	case "data.tar":
		return io.NopCloser(r), nil
	case "data.tar.gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return zr, nil
	case "data.tar.xz":
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return io.NopCloser(zr), nil
	case "data.tar.zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return zr.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("%w: unsupported member %q", ErrNotDeb, name)
}
