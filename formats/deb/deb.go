// Package deb reads Debian binary packages (.deb): an ar archive of
// debian-binary, control.tar[.*] and data.tar[.*], in that order. It is
// the one .deb reader of osbuild-vm: the host reads the build VM's kernel
// package with it, and the guest's stages read control files and unpack
// data archives with it. Format code only: no policy about where a file
// lands; callers that write files check names themselves (Walk cleans
// them).
package deb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/blakesmith/ar"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrFormat is the class of every "this is not a valid .deb" error.
var ErrFormat = errors.New("malformed .deb")

// ErrUnsafePath means a data.tar entry names an absolute path or one that
// climbs out of the tree with "..".
var ErrUnsafePath = errors.New("unsafe path in .deb")

const (
	arMagic = "!<arch>\n"
	// maxVersionSize bounds the debian-binary member ("2.0\n").
	maxVersionSize = 64
)

// reader walks the members of a .deb after checking that it starts with
// a debian-binary member of format 2.x, as dpkg-deb requires.
type reader struct {
	arr *ar.Reader
}

func newReader(r io.Reader) (*reader, error) {
	var magic [len(arMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != arMagic {
		return nil, fmt.Errorf("read .deb header: not an ar archive: %w", ErrFormat)
	}
	rd := &reader{arr: ar.NewReader(io.MultiReader(bytes.NewReader(magic[:]), r))}
	name, body, err := rd.next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read .deb: no members: %w", ErrFormat)
	}
	if err != nil {
		return nil, err
	}
	if name != "debian-binary" {
		return nil, fmt.Errorf("read .deb: first member is %q, not debian-binary: %w", name, ErrFormat)
	}
	v, err := io.ReadAll(io.LimitReader(body, maxVersionSize+1))
	if err != nil || len(v) > maxVersionSize || !strings.HasPrefix(string(v), "2.") {
		return nil, fmt.Errorf("read .deb: format version %q: %w", strings.TrimSpace(string(v)), ErrFormat)
	}
	return rd, nil
}

// next returns the next member's name and content. io.EOF after the last.
func (rd *reader) next() (string, io.Reader, error) {
	hdr, err := nextMember(rd.arr)
	if errors.Is(err, io.EOF) {
		return "", nil, io.EOF
	}
	if err != nil {
		return "", nil, fmt.Errorf("read .deb member: %w: %w", ErrFormat, err)
	}
	if hdr.Size < 0 {
		return "", nil, fmt.Errorf("read .deb member %q: negative size: %w", hdr.Name, ErrFormat)
	}
	name := strings.TrimSuffix(strings.TrimSpace(hdr.Name), "/")
	return name, io.LimitReader(rd.arr, hdr.Size), nil
}

// find skips to the member whose name starts with prefix ("control.tar",
// "data.tar") and returns its name and content.
func (rd *reader) find(prefix string) (string, io.Reader, error) {
	for {
		name, body, err := rd.next()
		if errors.Is(err, io.EOF) {
			return "", nil, fmt.Errorf("read .deb: no %s member: %w", prefix, ErrFormat)
		}
		if err != nil {
			return "", nil, err
		}
		if strings.HasPrefix(name, prefix) {
			return name, body, nil
		}
	}
}

// nextMember is arr.Next with blakesmith/ar's slice panics on malformed
// header fields (found by fuzzing) turned into ErrFormat: bad input must
// never crash the caller.
func nextMember(arr *ar.Reader) (hdr *ar.Header, err error) {
	defer func() {
		if r := recover(); r != nil {
			hdr, err = nil, fmt.Errorf("read .deb member header: %v: %w", r, ErrFormat)
		}
	}()
	return arr.Next()
}

// decompress picks the decompressor dpkg would for a member name.
func decompress(name string, r io.Reader) (io.ReadCloser, error) {
	var (
		rc  io.ReadCloser
		err error
	)
	switch path.Ext(name) {
	case ".tar":
		return io.NopCloser(r), nil
	case ".xz":
		var x *xz.Reader
		x, err = xz.NewReader(r)
		rc = io.NopCloser(x)
	case ".gz":
		rc, err = gzip.NewReader(r)
	case ".zst":
		var d *zstd.Decoder
		d, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err == nil {
			rc = d.IOReadCloser()
		}
	default:
		return nil, fmt.Errorf("read .deb member %q: unknown compression: %w", name, ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("read .deb member %q: %w: %w", name, ErrFormat, err)
	}
	return rc, nil
}
