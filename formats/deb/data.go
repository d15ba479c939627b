package deb

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// DataTar returns the uncompressed data.tar stream of the .deb read from
// r, reading r only up to the end of that member. Close releases the
// decoder.
func DataTar(r io.Reader) (io.ReadCloser, error) {
	rd, err := newReader(r)
	if err != nil {
		return nil, err
	}
	name, body, err := rd.find("data.tar")
	if err != nil {
		return nil, err
	}
	return decompress(name, body)
}

// WalkFunc sees one entry of data.tar: its header, with Name cleaned to a
// relative path ("boot/vmlinuz-6.1.0"), and a reader of its content.
type WalkFunc func(hdr *tar.Header, r io.Reader) error

// Walk calls fn for every entry of the package's data archive, in archive
// order. An error from fn stops the walk and is returned as is.
func Walk(r io.Reader, fn WalkFunc) error {
	data, err := DataTar(r)
	if err != nil {
		return err
	}
	defer data.Close()
	tr := tar.NewReader(data)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read .deb data.tar: %w: %w", ErrFormat, err)
		}
		clean, err := CleanName(hdr.Name)
		if err != nil {
			return err
		}
		hdr.Name = clean
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

// CleanName turns an archive name ("./boot/x") into a relative path
// ("boot/x", "." for the root) and rejects absolute names and "..".
func CleanName(name string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("read .deb entry %q: %w", name, ErrUnsafePath)
	}
	return clean, nil
}
