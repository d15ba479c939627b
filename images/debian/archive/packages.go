package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/internal/ctxio"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

// maxIndex bounds a compressed Packages index read into memory (Debian's
// main/binary-amd64/Packages.xz is about 9 MB).
const maxIndex = 512 << 20

// Package is one binary package from a Packages index. Relationship fields
// are kept as written; ParseRelations reads them.
type Package struct {
	Package, Version, Architecture string
	// Filename is the pool path relative to the mirror root; URL is that
	// path on the Archive it came from.
	Filename, URL string
	Size          int64
	SHA256        string
	Depends       string
	PreDepends    string
	Provides      string
}

// indexCandidates lists the forms of a Packages index in order of
// preference, with how to decompress each.
var indexCandidates = []struct {
	suffix string
	open   func(io.Reader) (io.Reader, error)
}{
	{".xz", func(r io.Reader) (io.Reader, error) { return xz.NewReader(r) }},
	{".gz", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"", func(r io.Reader) (io.Reader, error) { return r, nil }},
}

// Packages returns every package of main/binary-<arch>, fetched and
// verified against the signed Release (and remembered afterwards).
func (a *Archive) Packages(ctx context.Context, arch string) ([]Package, error) {
	rel, err := a.Release(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if pkgs, ok := a.packages[arch]; ok {
		return pkgs, nil
	}
	pkgs, err := a.fetchPackages(ctx, rel, arch)
	if err != nil {
		return nil, err
	}
	if a.packages == nil {
		a.packages = map[string][]Package{}
	}
	a.packages[arch] = pkgs
	return pkgs, nil
}

// fetchPackages downloads the preferred index form the Release lists.
func (a *Archive) fetchPackages(ctx context.Context, rel *Release, arch string) ([]Package, error) {
	base := "main/binary-" + arch + "/Packages"
	for _, c := range indexCandidates {
		sum, ok := rel.Files[base+c.suffix]
		if !ok {
			continue
		}
		if sum.Size > maxIndex {
			return nil, fmt.Errorf("fetch %s: %d bytes: %w", base+c.suffix, sum.Size, ErrTooLarge)
		}
		var buf bytes.Buffer
		if err := a.fetchVerified(ctx, a.indexURL(rel, base+c.suffix, sum), sum, &buf); err != nil {
			return nil, err
		}
		plain, err := c.open(ctxio.Reader(ctx, &buf))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w: %w", base+c.suffix, ErrBadIndex, err)
		}
		return a.readIndex(plain, base, rel.Files[base])
	}
	return nil, fmt.Errorf("find %s in Release of %s: %w", base, a.Suite, ErrNotFound)
}

// indexURL uses by-hash paths when the archive offers them, so the file
// cannot change under us between InRelease and this fetch.
func (a *Archive) indexURL(rel *Release, name string, sum FileSum) string {
	if rel.AcquireByHash {
		return a.distURL(path.Dir(name) + "/by-hash/SHA256/" + sum.SHA256)
	}
	return a.distURL(name)
}

// readIndex parses a decompressed index and, when the Release also lists
// the uncompressed file, checks its digest too.
func (a *Archive) readIndex(r io.Reader, name string, plain FileSum) ([]Package, error) {
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	pkgs, err := ParsePackages(cr, a.PoolURL)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if plain.SHA256 != "" {
		if err := checkSum(name, plain, cr.n, h.Sum(nil)); err != nil {
			return nil, err
		}
	}
	return pkgs, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ParsePackages reads a Packages index. url turns a Filename into a URL;
// nil leaves URL empty.
func ParsePackages(r io.Reader, url func(string) string) ([]Package, error) {
	rd := deb822.NewReader(r)
	var pkgs []Package
	for {
		p, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse Packages: %w: %w", ErrBadIndex, err)
		}
		pkg, err := packageFrom(p)
		if err != nil {
			return nil, err
		}
		if url != nil {
			pkg.URL = url(pkg.Filename)
		}
		pkgs = append(pkgs, pkg)
	}
}

// packageFrom validates one paragraph into a Package.
func packageFrom(p deb822.Paragraph) (Package, error) {
	pkg := Package{
		Package: p.Value("Package"), Version: p.Value("Version"),
		Architecture: p.Value("Architecture"), Filename: p.Value("Filename"),
		SHA256: p.Value("SHA256"), Depends: p.Value("Depends"),
		PreDepends: p.Value("Pre-Depends"), Provides: p.Value("Provides"),
	}
	if pkg.Package == "" || pkg.Version == "" || pkg.Architecture == "" {
		return Package{}, fmt.Errorf("parse Packages entry %q: Package, Version or Architecture missing: %w", pkg.Package, ErrBadIndex)
	}
	if !ValidSHA256(pkg.SHA256) {
		return Package{}, fmt.Errorf("parse Packages entry %s: SHA256 %q: %w", pkg.Package, pkg.SHA256, ErrBadIndex)
	}
	if !safePoolPath(pkg.Filename) {
		return Package{}, fmt.Errorf("parse Packages entry %s: Filename %q: %w", pkg.Package, pkg.Filename, ErrBadIndex)
	}
	size, err := strconv.ParseInt(p.Value("Size"), 10, 64)
	if err != nil || size <= 0 {
		return Package{}, fmt.Errorf("parse Packages entry %s: Size %q: %w", pkg.Package, p.Value("Size"), ErrBadIndex)
	}
	pkg.Size = size
	return pkg, nil
}

// safePoolPath accepts a clean relative path that stays under the mirror
// root and has no characters that would change a URL's meaning.
func safePoolPath(p string) bool {
	return p != "" && path.Clean(p) == p && !path.IsAbs(p) && p != ".." &&
		!strings.HasPrefix(p, "../") && !strings.ContainsAny(p, "?#%\\ \t")
}
