package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

// MaxControlSize bounds the uncompressed files of a control archive
// together; real ones are kilobytes (a few large md5sums lists reach a
// megabyte).
const MaxControlSize = 64 << 20

// ControlFile is one file of the control archive: a maintainer script,
// md5sums, conffiles, triggers, shlibs, ...
type ControlFile struct {
	Mode    fs.FileMode
	ModTime time.Time
	Data    []byte
}

// Control is a package's control archive: its control paragraph and every
// other file in it, by base name.
type Control struct {
	Fields deb822.Paragraph
	Files  map[string]ControlFile
}

// Package returns the Package field.
func (c *Control) Package() string { return c.Fields.Value("Package") }

// ReadControl reads the control archive of the .deb read from r, stopping
// at its end (r is then positioned at the data member, if the package
// has the usual order).
func ReadControl(r io.Reader) (*Control, error) {
	rd, err := newReader(r)
	if err != nil {
		return nil, err
	}
	name, body, err := rd.find("control.tar")
	if err != nil {
		return nil, err
	}
	plain, err := decompress(name, body)
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	c, err := readControlTar(plain)
	if err != nil {
		return nil, fmt.Errorf("read .deb %s: %w", name, err)
	}
	return c, nil
}

func readControlTar(r io.Reader) (*Control, error) {
	c := &Control{Files: map[string]ControlFile{}}
	tr := tar.NewReader(r)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name, err := CleanName(hdr.Name)
		if err != nil || path.Dir(name) != "." || name == "." {
			return nil, fmt.Errorf("control member %q: %w", hdr.Name, ErrFormat)
		}
		if total += hdr.Size; hdr.Size < 0 || total > MaxControlSize {
			return nil, fmt.Errorf("control archive larger than %d bytes: %w", MaxControlSize, ErrFormat)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("control member %q: %w: %w", name, ErrFormat, err)
		}
		c.Files[name] = ControlFile{Mode: hdr.FileInfo().Mode().Perm(), ModTime: hdr.ModTime, Data: data}
	}
	ctl, ok := c.Files["control"]
	if !ok {
		return nil, fmt.Errorf("no control file: %w", ErrFormat)
	}
	paras, err := deb822.ReadAll(bytes.NewReader(ctl.Data))
	if err != nil || len(paras) != 1 || paras[0].Value("Package") == "" {
		return nil, fmt.Errorf("control file is not one paragraph with a Package field: %w", ErrFormat)
	}
	c.Fields = paras[0]
	return c, nil
}
