package archive

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// HostKeyring is where Debian's debian-archive-keyring package installs the
// archive's public keys.
const HostKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// keys holds Debian's archive and release signing keys for bookworm and
// trixie (public keys, exported from debian-archive-keyring 2023.3+deb12u2),
// so a host without that package can still verify those suites.
//
//go:embed keys/*.asc
var keys embed.FS

// EmbeddedKeyring returns the archive keys shipped with this package.
func EmbeddedKeyring() (openpgp.EntityList, error) {
	names, err := fs.Glob(keys, "keys/*.asc")
	if err != nil {
		return nil, fmt.Errorf("list embedded keys: %w", err)
	}
	var all openpgp.EntityList
	for _, name := range names {
		data, err := keys.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read embedded key %s: %w", name, err)
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse embedded key %s: %w", name, err)
		}
		all = append(all, el...)
	}
	return all, nil
}

// ReadKeyringFile reads a binary (apt-style .gpg) or armored keyring.
func ReadKeyringFile(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keyring %s: %w", path, err)
	}
	el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		if el, aerr := openpgp.ReadArmoredKeyRing(bytes.NewReader(data)); aerr == nil {
			return el, nil
		}
		return nil, fmt.Errorf("parse keyring %s: %w", path, err)
	}
	return el, nil
}

// DefaultKeyring is the embedded keys plus, when present, the host's
// Debian archive keyring (which may know newer releases' keys).
func DefaultKeyring() (openpgp.EntityList, error) {
	el, err := EmbeddedKeyring()
	if err != nil {
		return nil, err
	}
	host, err := ReadKeyringFile(HostKeyring)
	if errors.Is(err, os.ErrNotExist) {
		return el, nil
	}
	if err != nil {
		return nil, err
	}
	return append(el, host...), nil
}
