// Package mpptest serves a small signed Debian archive over HTTP for tests
// of code that resolves package requests from outside images/debian (the
// command line), as net/http/httptest serves HTTP. The archive is signed
// with a key made for the test: pass Keyring and Now to the resolver.
package mpptest

import (
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// Package is one entry of the served Packages indices.
type Package struct {
	Name, Version string
	// Fields are further control fields as written ("Depends: a | b").
	Fields []string
}

// Archive is a served archive; it stops when the test ends.
type Archive struct {
	// URL is the mirror root.
	URL string
	// Keyring holds the signing key's public part.
	Keyring openpgp.EntityList
	fa      *fakearchive.Archive
}

// Now is a clock at which the archive's Release is valid.
func Now() time.Time { return fakearchive.Date.Add(time.Hour) }

// Serve publishes pkgs for each architecture in archs as suite's main
// component. Each .deb's content is "name version arch".
func Serve(t testing.TB, suite string, archs []string, pkgs ...Package) *Archive {
	t.Helper()
	fa := fakearchive.New(t, suite)
	for _, arch := range archs {
		for _, p := range pkgs {
			fa.AddDeb(arch, p.Name, p.Version, []byte(p.Name+" "+p.Version+" "+arch), p.Fields...)
		}
	}
	fa.Publish(t)
	return &Archive{URL: fa.URL(), Keyring: fa.Keyring, fa: fa}
}

// Requests counts the HTTP requests served so far.
func (a *Archive) Requests() int64 { return a.fa.Requests() }

// Set serves data at path instead, for tests that tamper with a file.
func (a *Archive) Set(path string, data []byte) { a.fa.Set(path, data) }

// Get returns what is served at path.
func (a *Archive) Get(path string) []byte { return a.fa.Get(path) }
