package sources

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// inline decodes an org.osbuild.inline item and stores it. "lzma+base64"
// is what Python's lzma.decompress accepts by default: an .xz stream, or a
// legacy .lzma ("alone") stream.
func (f *fetcher) inline(it item) error {
	raw, err := decodeBase64(it.data)
	if err != nil {
		return err
	}
	var r io.Reader = bytes.NewReader(raw)
	if it.encoding == "lzma+base64" {
		if r, err = lzmaReader(raw); err != nil {
			return fmt.Errorf("decode lzma: %w", err)
		}
	}
	w, err := newWriter(f.dest, it.sum, f.opts.MaxItemSize)
	if err != nil {
		return err
	}
	defer w.close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("decode %s: %w", it.encoding, err)
	}
	return w.commit()
}

// decodeBase64 decodes standard base64, ignoring line breaks and blanks as
// Python's b64decode does; other stray characters are errors.
func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("decode base64: %w", err)
	}
	return data, nil
}

// lzmaReader picks the container by its magic bytes.
func lzmaReader(raw []byte) (io.Reader, error) {
	if bytes.HasPrefix(raw, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}) {
		return xz.NewReader(bytes.NewReader(raw))
	}
	return lzma.NewReader(bytes.NewReader(raw))
}
