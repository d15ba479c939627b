package initramfs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/u-root/u-root/pkg/cpio"
)

// Entry is one member of an archive, as List reports it.
type Entry struct {
	Name  string
	Mode  uint64 // type and permission bits, as in the cpio header
	Size  int64
	MTime int64
	Data  []byte // a regular file's content, when List was asked for it
}

// ErrMalformed is returned by List for an archive it cannot read.
var ErrMalformed = errors.New("malformed cpio archive")

// newc header: 6 bytes magic, 13 fields of 8 hex digits; the name size is
// the 12th field.
const (
	headerLen     = 6 + 13*8
	nameSizeField = 6 + 11*8
)

// List reads a newc archive (up to its trailer) and returns its entries in
// archive order; with data it also returns each regular file's content
// (slices of archive, not copies).
// It exists so that tests and the host can check what an initramfs holds.
// The archive is untrusted: every size is checked against len(archive)
// before anything is allocated for it.
func List(archive []byte, data bool) ([]Entry, error) {
	rr := cpio.Newc.Reader(bytes.NewReader(archive))
	var out []Entry
	pos := int64(0)
	for {
		if err := checkHeader(archive, pos); err != nil {
			return nil, err
		}
		rec, err := rr.ReadRecord()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list initramfs at %d: %v: %w", pos, err, ErrMalformed)
		}
		e, err := entry(rec, archive, data)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		pos = (rec.FilePos + e.Size + 3) &^ 3
	}
}

// checkHeader refuses a header whose name would run past the archive.
func checkHeader(archive []byte, pos int64) error {
	if pos+headerLen > int64(len(archive)) {
		return fmt.Errorf("list initramfs: no trailer: %w", ErrMalformed)
	}
	var n [4]byte
	if _, err := hex.Decode(n[:], archive[pos+nameSizeField:pos+nameSizeField+8]); err != nil {
		return fmt.Errorf("list initramfs at %d: name size: %v: %w", pos, err, ErrMalformed)
	}
	size := int64(n[0])<<24 | int64(n[1])<<16 | int64(n[2])<<8 | int64(n[3])
	if pos+headerLen+size > int64(len(archive)) {
		return fmt.Errorf("list initramfs at %d: name of %d bytes past the end: %w", pos, size, ErrMalformed)
	}
	return nil
}

func entry(rec cpio.Record, archive []byte, data bool) (Entry, error) {
	e := Entry{Name: rec.Name, Mode: rec.Mode, Size: int64(rec.FileSize), MTime: int64(rec.MTime)}
	if rec.FilePos+e.Size > int64(len(archive)) {
		return Entry{}, fmt.Errorf("list initramfs: %s: %d bytes past the end: %w", rec.Name, e.Size, ErrMalformed)
	}
	if data && rec.Mode&cpio.S_IFMT == cpio.S_IFREG {
		e.Data = archive[rec.FilePos : rec.FilePos+e.Size]
	}
	return e, nil
}
