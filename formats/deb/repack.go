package deb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/blakesmith/ar"
)

// WriteUncompressed copies the .deb read from r to w with its control and
// data archives decompressed (control.tar, data.tar): the same package to
// dpkg, which records nothing of the compression, but one that a slow
// (emulated) CPU unpacks without running a decompressor. The ar headers
// are fixed (mtime 0, owner 0, mode 0644), so the output depends on the
// package's contents only.
func WriteUncompressed(r io.Reader, w io.Writer) error {
	rd, err := newReader(r)
	if err != nil {
		return err
	}
	aw := ar.NewWriter(w)
	if err := aw.WriteGlobalHeader(); err != nil {
		return err
	}
	if err := writeMember(aw, "debian-binary", strings.NewReader("2.0\n"), 4); err != nil {
		return err
	}
	for _, prefix := range []string{"control.tar", "data.tar"} {
		name, body, err := rd.find(prefix)
		if err != nil {
			return err
		}
		if err := writeTar(aw, prefix, name, body); err != nil {
			return err
		}
	}
	return nil
}

// writeTar writes member prefix decompressed; ar needs the size up front,
// so the plain tar is spooled to a temporary file first.
func writeTar(aw *ar.Writer, prefix, name string, body io.Reader) error {
	plain, err := decompress(name, body)
	if err != nil {
		return err
	}
	defer plain.Close()
	tmp, err := os.CreateTemp("", "deb-member-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, plain)
	if err != nil {
		return fmt.Errorf("read .deb member %q: %w: %w", name, ErrFormat, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return writeMember(aw, prefix, tmp, n)
}

func writeMember(aw *ar.Writer, name string, r io.Reader, size int64) error {
	h := &ar.Header{Name: name, ModTime: time.Unix(0, 0), Mode: 0o644, Size: size}
	if err := aw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(aw, r)
	if err == nil && n != size {
		err = errors.New("member size changed while copying")
	}
	return err
}
