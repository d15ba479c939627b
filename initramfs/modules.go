package initramfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/osbuild-vm/osbuild-vm/initramfs/modorder"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

// maxFile bounds one file in the archive (after decompression), so that a
// corrupt compressed module cannot fill the host's memory. The largest
// Debian module is a few MB; the guest binary about 10.
const maxFile = 256 << 20

// moduleRecords reads every module and adds the order file, with each
// module's dependencies (from its modinfo) among the modules carried. A
// dependency on a module not carried is left out: it is built into the
// kernel, or the list is incomplete and the guest's load will say so.
func moduleRecords(mods []Module) ([]cpio.Record, error) {
	recs := make([]cpio.Record, 0, len(mods)+1)
	entries := make([]modorder.Entry, 0, len(mods))
	carried := map[string]bool{}
	for _, m := range mods {
		carried[m.Name] = true
	}
	for _, m := range mods {
		data, err := readModule(m.Path)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Name, err)
		}
		deps, err := depends(data)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Name, err)
		}
		recs = append(recs, file(modorder.File(m.Name), data, 0o644))
		entries = append(entries, modorder.Entry{Name: m.Name, Deps: keep(deps, carried)})
	}
	order, err := modorder.Format(entries)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidSpec)
	}
	return append(recs, file(modorder.Path, order, 0o644)), nil
}

func file(name string, data []byte, perm uint64) cpio.Record {
	return cpio.StaticRecord(data, cpio.Info{Name: cpio.Normalize(name), Mode: cpio.S_IFREG | perm})
}

// readModule returns the plain ELF object of the module at path.
func readModule(path string) ([]byte, error) {
	if !knownSuffix(path) {
		return nil, fmt.Errorf("read %s: unknown suffix (want .ko, .ko.xz, .ko.zst or .ko.gz): %w", path, ErrInvalidSpec)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, closer, err := decompressor(path, f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if closer != nil {
		defer closer()
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("read %s: more than %d bytes: %w", path, maxFile, ErrInvalidSpec)
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return nil, fmt.Errorf("read %s: not an ELF object: %w", path, ErrInvalidSpec)
	}
	return data, nil
}

// decompressor picks a reader by path's suffix, as kmod does.
func decompressor(path string, f io.Reader) (io.Reader, func(), error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return f, nil, nil
	case strings.HasSuffix(path, ".ko.xz"):
		r, err := xz.NewReader(f)
		return r, nil, err
	case strings.HasSuffix(path, ".ko.zst"):
		d, err := zstd.NewReader(f)
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	case strings.HasSuffix(path, ".ko.gz"):
		r, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown module suffix: %w", ErrInvalidSpec)
}

func knownSuffix(path string) bool {
	for _, s := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return false
}

// keep returns the names in deps that set holds.
func keep(deps []string, set map[string]bool) []string {
	var out []string
	for _, d := range deps {
		if set[d] {
			out = append(out, d)
		}
	}
	return out
}
