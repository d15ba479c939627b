package sources

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrInvalidChecksum reports a checksum that is not "algo:hex" with a known
// algorithm and the hex length that algorithm produces.
var ErrInvalidChecksum = errors.New("invalid checksum")

// ErrDigestMismatch reports content whose digest differs from its checksum.
var ErrDigestMismatch = errors.New("checksum mismatch")

// algorithms maps osbuild's checksum prefixes to hash constructors and
// their hex digest lengths.
var algorithms = map[string]struct {
	new    func() hash.Hash
	hexLen int
}{
	"md5":    {md5.New, 32},
	"sha1":   {sha1.New, 40},
	"sha256": {sha256.New, 64},
	"sha384": {sha512.New384, 96},
	"sha512": {sha512.New, 128},
}

// Checksum is a parsed "algo:hex" item checksum, which is also the item's
// file name in the store.
type Checksum struct {
	Algo string
	Hex  string
}

// String returns the checksum as written in manifests.
func (c Checksum) String() string { return c.Algo + ":" + c.Hex }

// ParseChecksum validates s: algorithm md5, sha1, sha256, sha384 or sha512,
// then exactly that algorithm's number of lowercase hex digits. Only then
// may it become a file name.
func ParseChecksum(s string) (Checksum, error) {
	algo, hexd, ok := strings.Cut(s, ":")
	a, known := algorithms[algo]
	if !ok || !known {
		return Checksum{}, fmt.Errorf("checksum %.80q: %w: want md5, sha1, sha256, sha384 or sha512", s, ErrInvalidChecksum)
	}
	if len(hexd) != a.hexLen || strings.Trim(hexd, "0123456789abcdef") != "" {
		return Checksum{}, fmt.Errorf("checksum %.80q: %w: want %d lowercase hex digits", s, ErrInvalidChecksum, a.hexLen)
	}
	return Checksum{Algo: algo, Hex: hexd}, nil
}

// newHash returns a hash for the checksum's algorithm.
func (c Checksum) newHash() hash.Hash { return algorithms[c.Algo].new() }
