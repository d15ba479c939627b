package archive

import (
	"errors"
	"fmt"
)

// Error classes callers branch on with errors.Is.
var (
	// ErrBadSignature: InRelease is not clearsigned by a key in the keyring,
	// or the signature does not verify.
	ErrBadSignature = errors.New("bad archive signature")
	// ErrDigestMismatch: a downloaded file's size or SHA256 differs from the
	// signed index that names it.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrBadRelease: the signed Release data is malformed, for another suite,
	// expired, or dated in the future.
	ErrBadRelease = errors.New("bad Release file")
	// ErrBadIndex: a Packages index is malformed or names unsafe paths.
	ErrBadIndex = errors.New("bad Packages index")
	// ErrNotFound: the archive has no such file, index or package.
	ErrNotFound = errors.New("not found in archive")
	// ErrTooLarge: a response exceeds the bound set for it.
	ErrTooLarge = errors.New("response too large")
)

// HTTPError is a non-200 answer from the mirror. A 404 also matches
// ErrNotFound.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string { return fmt.Sprintf("GET %s: HTTP status %d", e.URL, e.Status) }

// Is lets errors.Is(err, ErrNotFound) see a 404.
func (e *HTTPError) Is(target error) bool { return target == ErrNotFound && e.Status == 404 }
