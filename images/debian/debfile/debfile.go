// Package debfile reads the files inside a Debian binary package (.deb):
// an ar archive holding debian-binary, control.tar.* and data.tar.*. Only
// the data archive is walked; its entry names are checked so that a
// hostile package cannot name a path outside the tree.
package debfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/blakesmith/ar"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrFormat is the class of every "this is not a valid .deb" error.
var ErrFormat = errors.New("malformed .deb")

// ErrUnsafePath means a data.tar entry names an absolute path or one that
// climbs out of the tree with "..".
var ErrUnsafePath = errors.New("unsafe path in .deb")

const arMagic = "!<arch>\n"

// WalkFunc sees one entry of data.tar: its header, with Name cleaned to a
// relative path ("boot/vmlinuz-6.1.0"), and a reader of its content.
type WalkFunc func(hdr *tar.Header, r io.Reader) error

// Walk calls fn for every entry of the package's data archive, in archive
// order. An error from fn stops the walk and is returned as is.
func Walk(r io.Reader, fn WalkFunc) error {
	var magic [len(arMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != arMagic {
		return fmt.Errorf("read .deb header: not an ar archive: %w", ErrFormat)
	}
	arr := ar.NewReader(io.MultiReader(bytes.NewReader(magic[:]), r))
	sawBinary := false
	for {
		hdr, err := nextMember(arr)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("read .deb: no data.tar member: %w", ErrFormat)
		}
		if err != nil {
			return fmt.Errorf("read .deb member: %w: %w", ErrFormat, err)
		}
		if hdr.Size < 0 {
			return fmt.Errorf("read .deb member %q: negative size: %w", hdr.Name, ErrFormat)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		switch {
		case name == "debian-binary":
			sawBinary = true
		case strings.HasPrefix(name, "data.tar"):
			if !sawBinary {
				return fmt.Errorf("read .deb: data.tar before debian-binary: %w", ErrFormat)
			}
			return walkData(name, io.LimitReader(arr, hdr.Size), fn)
		}
	}
}

// nextMember is arr.Next with blakesmith/ar's slice panics on malformed
// header fields (found by FuzzWalk) turned into ErrFormat: bad input must
// never crash the caller.
func nextMember(arr *ar.Reader) (hdr *ar.Header, err error) {
	defer func() {
		if r := recover(); r != nil {
			hdr, err = nil, fmt.Errorf("read .deb member header: %v: %w", r, ErrFormat)
		}
	}()
	return arr.Next()
}

// walkData decompresses data.tar.* by its suffix and walks the tar.
func walkData(name string, r io.Reader, fn WalkFunc) error {
	plain, err := decompress(name, r)
	if err != nil {
		return fmt.Errorf("open .deb %s: %w: %w", name, ErrFormat, err)
	}
	defer plain.Close()
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read .deb %s: %w: %w", name, ErrFormat, err)
		}
		clean, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		hdr.Name = clean
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

// decompress picks the decompressor dpkg would for a member name.
func decompress(name string, r io.Reader) (io.ReadCloser, error) {
	switch path.Ext(name) {
	case ".tar":
		return io.NopCloser(r), nil
	case ".xz":
		x, err := xz.NewReader(r)
		return io.NopCloser(x), err
	case ".gz":
		return gzip.NewReader(r)
	case ".zst":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown compression of %q", name)
}

// cleanName turns "./boot/x" into "boot/x" and rejects escapes.
func cleanName(name string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("read .deb entry %q: %w", name, ErrUnsafePath)
	}
	return clean, nil
}
