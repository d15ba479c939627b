// Package fakearchive serves a small Debian archive from an httptest
// server, signed with a key generated for the test, so the archive client
// and the kernel fetcher can be tested without a network and with
// deliberately broken signatures, indexes and packages.
package fakearchive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"
)

// Date is the Release date the fake archive publishes.
var Date = time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC)

// Archive is a served fake mirror. Add packages, then Publish.
type Archive struct {
	Suite  string
	Signer *openpgp.Entity
	// Keyring holds the signer's public key, to trust in the client.
	Keyring openpgp.EntityList
	Server  *httptest.Server
	// ByHash makes Release say Acquire-By-Hash: yes and serve by-hash paths.
	ByHash bool
	// ValidUntil, when set, is written to Release.
	ValidUntil time.Time

	mu       sync.Mutex
	files    map[string][]byte
	packages map[string][]string // arch -> paragraphs
	requests atomic.Int64
}

// New starts a fake archive for suite; it stops when the test ends.
func New(t testing.TB, suite string) *Archive {
	t.Helper()
	a := &Archive{Suite: suite, Signer: NewKey(t), files: map[string][]byte{}, packages: map[string][]string{}}
	a.Keyring = openpgp.EntityList{a.Signer}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Server.Close)
	return a
}

// NewKey generates a fast (EdDSA) signing key.
func NewKey(t testing.TB) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("fake archive", "", "archive@example.invalid",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return Date.Add(-96 * time.Hour) }})
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return e
}

func (a *Archive) serve(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	a.mu.Lock()
	data, ok := a.files[strings.TrimPrefix(r.URL.Path, "/")]
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}

// Requests counts the HTTP requests served so far.
func (a *Archive) Requests() int64 { return a.requests.Load() }

// URL is the mirror root.
func (a *Archive) URL() string { return a.Server.URL }

// Set serves data at path (relative to the mirror root), replacing
// anything there: the way tests tamper with a published file.
func (a *Archive) Set(path string, data []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = data
}

// Get returns what is served at path.
func (a *Archive) Get(path string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[path]
}

// AddDeb puts a package into the pool and its entry into arch's index;
// extra holds further fields ("Depends: x") as written. It returns the
// pool path.
func (a *Archive) AddDeb(arch, name, version string, deb []byte, extra ...string) string {
	return a.AddDebTo(arch, arch, name, version, deb, extra...)
}

// AddDebTo is AddDeb for a package whose Architecture field (debArch, e.g.
// "all") differs from the index it is listed in (index, e.g. "amd64").
func (a *Archive) AddDebTo(index, debArch, name, version string, deb []byte, extra ...string) string {
	// An epoch's ':' has no place in a pool path (safePoolPath refuses '%').
	pool := fmt.Sprintf("pool/main/%c/%s/%s_%s_%s.deb", name[0], name, name, strings.ReplaceAll(version, ":", "_"), debArch)
	a.Set(pool, deb)
	sum := sha256.Sum256(deb)
	para := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", name, version, debArch)
	for _, e := range extra {
		para += e + "\n"
	}
	para += fmt.Sprintf("Filename: %s\nSize: %d\nSHA256: %s\n", pool, len(deb), hex.EncodeToString(sum[:]))
	a.mu.Lock()
	a.packages[index] = append(a.packages[index], para)
	a.mu.Unlock()
	return pool
}

// Publish writes every arch's Packages and Packages.xz, Release and a
// clearsigned InRelease.
func (a *Archive) Publish(t testing.TB) {
	t.Helper()
	sums := map[string][]byte{}
	a.mu.Lock()
	archs := make([]string, 0, len(a.packages))
	for arch, paras := range a.packages {
		archs = append(archs, arch)
		plain := []byte(strings.Join(paras, "\n"))
		base := "main/binary-" + arch + "/Packages"
		sums[base] = plain
		sums[base+".xz"] = compressXZ(t, plain)
	}
	a.mu.Unlock()
	sort.Strings(archs)
	release := a.release(archs, sums)
	a.Set("dists/"+a.Suite+"/Release", release)
	a.Set("dists/"+a.Suite+"/InRelease", Sign(t, a.Signer, release))
}

// release writes the index files and returns the Release text naming them.
func (a *Archive) release(archs []string, files map[string][]byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Origin: Fake\nSuite: stable\nCodename: %s\nDate: %s\n", a.Suite, Date.Format(time.RFC1123))
	if !a.ValidUntil.IsZero() {
		fmt.Fprintf(&b, "Valid-Until: %s\n", a.ValidUntil.Format(time.RFC1123))
	}
	if a.ByHash {
		b.WriteString("Acquire-By-Hash: yes\n")
	}
	fmt.Fprintf(&b, "Architectures: %s\nComponents: main\nSHA256:\n", strings.Join(archs, " "))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		digest := hex.EncodeToString(sum[:])
		fmt.Fprintf(&b, " %s %d %s\n", digest, len(files[n]), n)
		a.Set("dists/"+a.Suite+"/"+n, files[n])
		if a.ByHash {
			dir := n[:strings.LastIndex(n, "/")]
			a.Set("dists/"+a.Suite+"/"+dir+"/by-hash/SHA256/"+digest, files[n])
		}
	}
	return []byte(b.String())
}

// Sign clearsigns text with e.
func Sign(t testing.TB, e *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, e.PrivateKey, &packet.Config{Time: func() time.Time { return Date.Add(-72 * time.Hour) }})
	if err != nil {
		t.Fatalf("clearsign: %v", err)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatalf("clearsign: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("clearsign: %v", err)
	}
	return out.Bytes()
}

func compressXZ(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatalf("xz: %v", err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatalf("xz: %v", err)
	}
	return b.Bytes()
}
