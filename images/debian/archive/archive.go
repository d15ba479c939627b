// Package archive is a client for a Debian archive: it verifies a suite's
// InRelease against Debian's signing keys, reads the signed index of
// Packages files, verifies and parses them, and downloads .deb files with
// their size and SHA256 checked. Every byte it hands on is traced to the
// signature: InRelease -> SHA256 of Packages -> SHA256 of each .deb.
//
// The mirror is never written into the project: ResolveMirror reads it from
// the --mirror flag, $OSBUILD_VM_MIRROR or the host's apt configuration.
package archive

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Archive is one suite of one mirror. Set the exported fields, then use it;
// it remembers InRelease and each Packages index once fetched, so an
// Archive must not be copied after first use.
type Archive struct {
	// Mirror is the archive root URL, e.g. the URI of an apt source.
	Mirror string
	// Suite is a codename or suite name ("bookworm", "stable").
	Suite string
	// Keyring verifies InRelease; nil means DefaultKeyring().
	Keyring openpgp.EntityList
	// Client fetches; nil means http.DefaultClient.
	Client *http.Client
	// Now is the clock for Valid-Until and key expiry; nil means time.Now.
	Now func() time.Time
	// Cache keeps verified InRelease and Packages files between runs; nil
	// keeps them only in this Archive's memory.
	Cache *IndexCache
	// Log, when set, is told what is downloaded and what came from Cache.
	Log func(format string, args ...any)

	mu       sync.Mutex
	release  *Release
	packages map[string][]Package
}

func (a *Archive) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Archive) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

func (a *Archive) keyring() (openpgp.EntityList, error) {
	if a.Keyring != nil {
		return a.Keyring, nil
	}
	return DefaultKeyring()
}

// distURL is the URL of a file under dists/<suite>/.
func (a *Archive) distURL(rel string) string {
	return a.root() + "/dists/" + a.Suite + "/" + rel
}

// PoolURL is the URL of a file named by a Packages Filename field.
func (a *Archive) PoolURL(filename string) string { return a.root() + "/" + filename }

func (a *Archive) root() string { return strings.TrimRight(a.Mirror, "/") }
