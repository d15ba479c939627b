// Package directio streams one large archive file in or out in big
// aligned chunks with O_DIRECT, bypassing the page cache.
//
// Trees travel between the host's store and the build VM as archives on
// virtiofs shares. Measured in the VM under TCG, reading such a file through
// the guest's page cache ran at 27 MB/s and writing at 40 MB/s, while
// O_DIRECT moved the same bytes at 300-700 MB/s reading and 400 MB/s
// writing: every byte through the page cache costs an emulated copy and
// small FUSE requests. Where a filesystem refuses O_DIRECT (or an
// unaligned tail), the file is read or written through the page cache
// instead, so the result never depends on it.
package directio

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ChunkSize is the size of every read and write but the last: large
// requests keep the per-request cost of virtiofs small.
const ChunkSize = 4 << 20

// buffer is a page-aligned ChunkSize buffer, as O_DIRECT needs.
func buffer() ([]byte, error) {
	b, err := unix.Mmap(-1, 0, ChunkSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("allocate transfer buffer: %w", err)
	}
	return b, nil
}

// setDirect turns O_DIRECT on or off for f and reports whether it is on.
func setDirect(f *os.File, on bool) bool {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	want := flags &^ unix.O_DIRECT
	if on {
		want |= unix.O_DIRECT
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, want); err != nil {
		return false
	}
	return on
}

// Reader reads a file sequentially in ChunkSize requests.
type Reader struct {
	f      *os.File
	buf    []byte
	r, w   int
	direct bool
	err    error
}

// NewReader reads f from its current offset, which must be 0 for O_DIRECT
// to stay aligned. Close releases the buffer, not f.
func NewReader(f *os.File) (*Reader, error) {
	buf, err := buffer()
	if err != nil {
		return nil, err
	}
	return &Reader{f: f, buf: buf, direct: setDirect(f, true)}, nil
}

// Read copies out of the current chunk, reading the next when it is used up.
func (r *Reader) Read(p []byte) (int, error) {
	if r.r == r.w {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.buf[r.r:r.w])
	r.r += n
	if n == 0 {
		return 0, r.err
	}
	return n, nil
}

// fill reads the next chunk; a read O_DIRECT refuses is repeated through
// the page cache.
func (r *Reader) fill() {
	n, err := r.f.Read(r.buf)
	if r.direct && errors.Is(err, unix.EINVAL) {
		r.direct = setDirect(r.f, false)
		n, err = r.f.Read(r.buf)
	}
	r.r, r.w, r.err = 0, n, err
}

// Close releases the buffer.
func (r *Reader) Close() error {
	if r.buf == nil {
		return nil
	}
	err := unix.Munmap(r.buf)
	r.buf = nil
	return err
}

// Writer writes a file sequentially in ChunkSize requests. Flush writes
// the tail.
type Writer struct {
	f      *os.File
	buf    []byte
	n      int
	direct bool
	err    error
}

// NewWriter writes to f from its current offset, which must be 0 for
// O_DIRECT to stay aligned. Close releases the buffer, not f.
func NewWriter(f *os.File) (*Writer, error) {
	buf, err := buffer()
	if err != nil {
		return nil, err
	}
	return &Writer{f: f, buf: buf, direct: setDirect(f, true)}, nil
}

// Write buffers p, writing every chunk that fills up.
func (w *Writer) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 && w.err == nil {
		c := copy(w.buf[w.n:], p)
		w.n += c
		total += c
		p = p[c:]
		if w.n == len(w.buf) {
			w.err = w.writeChunk()
		}
	}
	return total, w.err
}

// writeChunk writes the full buffer; a write O_DIRECT refuses is repeated
// through the page cache.
func (w *Writer) writeChunk() error {
	_, err := w.f.Write(w.buf[:w.n])
	if w.direct && errors.Is(err, unix.EINVAL) {
		w.direct = setDirect(w.f, false)
		_, err = w.f.Write(w.buf[:w.n])
	}
	w.n = 0
	return err
}

// Flush writes what is buffered through the page cache: a tail shorter
// than a chunk may be unaligned. Writes after it go through the page cache.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.direct {
		w.direct = setDirect(w.f, false)
	}
	w.err = w.writeChunk()
	return w.err
}

// Close releases the buffer.
func (w *Writer) Close() error {
	if w.buf == nil {
		return nil
	}
	err := unix.Munmap(w.buf)
	w.buf = nil
	return err
}
