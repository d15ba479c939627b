package debian

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// maxRawImage bounds a decompressed arm64 kernel image.
const maxRawImage = 512 << 20

// bootImage returns the file QEMU's -kernel should get. x86 boots bzImage
// (vmlinuz) as is. QEMU's arm64 loader wants a raw Image: Debian 12's
// arm64 vmlinuz is one already (checked: qemu-system-aarch64 -M virt boots
// it); a gzip'd Image or an EFI zboot image is decompressed to "Image" so
// that no QEMU version limit applies.
func bootImage(dir, vmlinuz, arch string) (string, error) {
	if arch != "arm64" {
		return vmlinuz, nil
	}
	f, err := os.Open(vmlinuz)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var head [64]byte
	n, _ := io.ReadFull(f, head[:])
	plain, err := imageDecompressor(f, head[:n])
	if err != nil || plain == nil {
		return vmlinuz, err
	}
	defer plain.Close()
	raw := filepath.Join(dir, "Image")
	if err := copyBounded(raw, plain, maxRawImage); err != nil {
		return "", fmt.Errorf("decompress kernel image: %w", err)
	}
	return raw, nil
}

// imageDecompressor recognises a compressed arm64 image from its first
// bytes and returns a reader of the raw Image, or nil for a raw Image.
func imageDecompressor(f io.ReadSeeker, head []byte) (io.ReadCloser, error) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return gzip.NewReader(f)
	case len(head) >= 56 && string(head[0:2]) == "MZ" && string(head[4:8]) == "zimg":
		return zbootPayload(f, head)
	}
	return nil, nil
}

// zbootPayload reads the payload of an EFI zboot image (Linux
// drivers/firmware/efi/libstub/zboot-header.S): offset and size at 8 and
// 12, the compression name at 24.
func zbootPayload(f io.ReadSeeker, head []byte) (io.ReadCloser, error) {
	off := int64(binary.LittleEndian.Uint32(head[8:12]))
	size := int64(binary.LittleEndian.Uint32(head[12:16]))
	comp := string(bytes.TrimRight(head[24:56], "\x00"))
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	payload := io.LimitReader(f, size)
	switch comp {
	case "gzip":
		return gzip.NewReader(payload)
	case "zstd", "zstd22":
		d, err := zstd.NewReader(payload, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("decompress zboot kernel image: compression %q not supported", comp)
}
