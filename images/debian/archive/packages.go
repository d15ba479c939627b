package archive

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
	"pault.ag/go/debian/version"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
	"github.com/osbuild-vm/osbuild-vm/internal/ctxio"
)

// maxIndex bounds a compressed Packages index (Debian's
// main/binary-amd64/Packages.xz is about 10 MB).
const maxIndex = 512 << 20

// Package is one binary package from a Packages index.
type Package struct {
	Package, Version, Architecture string
	// Ver is Version parsed.
	Ver version.Version
	// Filename is the pool path relative to the mirror root; URL is that
	// path on the Archive it came from.
	Filename, URL string
	Size          int64
	SHA256        string
	// Relationship fields as written; ParseRelations reads them. A
	// resolver needs the first five; apt's package order also counts the
	// names the other four mention.
	PreDepends, Depends, Conflicts, Breaks, Provides string
	Recommends, Suggests, Replaces, Enhances         string
	// MultiArch is "same", "foreign", "allowed", or "" for "no".
	MultiArch string
	// Priority is as written ("required", "important", ...), "" if absent.
	Priority string
	// Essential is "Essential: yes"; Important is "Important: yes" or
	// "Protected: yes" (apt ranks both the same).
	Essential, Important bool
	// Component is the archive component whose index listed it ("main").
	Component string
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

// Packages returns every package of main/binary-<arch>.
func (a *Archive) Packages(ctx context.Context, arch string) ([]Package, error) {
	return a.ComponentPackages(ctx, "main", arch)
}

// ComponentPackages returns every package of <component>/binary-<arch>,
// fetched (or read from Cache) and verified against the signed Release,
// and remembered afterwards.
func (a *Archive) ComponentPackages(ctx context.Context, component, arch string) ([]Package, error) {
	rel, err := a.Release(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(rel.Components, component) {
		return nil, fmt.Errorf("read %s/binary-%s: component %q not in %s (it has %s): %w",
			component, arch, component, a.Suite, strings.Join(rel.Components, ", "), ErrNotFound)
	}
	key := component + "/" + arch
	a.mu.Lock()
	defer a.mu.Unlock()
	if pkgs, ok := a.packages[key]; ok {
		return pkgs, nil
	}
	pkgs, err := a.loadPackages(ctx, rel, component, arch)
	if err != nil {
		return nil, err
	}
	if a.packages == nil {
		a.packages = map[string][]Package{}
	}
	a.packages[key] = pkgs
	return pkgs, nil
}

// loadPackages reads the index from the cache when it holds the file the
// Release names, else downloads it.
func (a *Archive) loadPackages(ctx context.Context, rel *Release, component, arch string) ([]Package, error) {
	base := component + "/binary-" + arch + "/Packages"
	plain, hasPlain := rel.Files[base]
	if a.Cache != nil && hasPlain {
		if pkgs, ok := a.cachedPackages(ctx, plain, component); ok {
			return pkgs, nil
		}
	}
	for _, c := range indexCandidates {
		sum, ok := rel.Files[base+c.suffix]
		if !ok {
			continue
		}
		if sum.Size > maxIndex {
			return nil, fmt.Errorf("fetch %s: %d bytes: %w", base+c.suffix, sum.Size, ErrTooLarge)
		}
		return a.fetchIndex(ctx, rel, base+c.suffix, sum, c.open, component)
	}
	return nil, fmt.Errorf("find %s in Release of %s: %w", base, a.Suite, ErrNotFound)
}

// cachedPackages parses a cached uncompressed index, checking its digest
// as it goes; a missing or damaged file is a miss.
func (a *Archive) cachedPackages(ctx context.Context, plain FileSum, component string) ([]Package, bool) {
	f, err := a.Cache.open(plain)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	pkgs, err := a.readIndex(ctxio.Reader(ctx, f), "cached Packages", plain, component)
	return pkgs, err == nil
}

// fetchIndex downloads a (compressed) index and parses it while it
// arrives, so decompression overlaps the download. Nothing is returned or
// cached unless the compressed bytes match the Release, and the
// uncompressed ones too when the Release lists them.
func (a *Archive) fetchIndex(ctx context.Context, rel *Release, name string, sum FileSum, open func(io.Reader) (io.Reader, error), component string) ([]Package, error) {
	url := a.indexURL(rel, name, sum)
	body, err := a.open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	h := sha256.New()
	raw := &countingReader{r: io.TeeReader(io.LimitReader(body, sum.Size+1), h)}
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".xz"), ".gz")
	plain := rel.Files[base]
	sink := a.Cache.newFile(plain)
	defer sink.discard()
	pkgs, perr := a.decodeIndex(ctx, raw, open, name, plain, sink, component)
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if err := checkSum(url, sum, raw.n, h.Sum(nil)); err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	sink.commit()
	return pkgs, nil
}

// decodeIndex decompresses and parses, copying the plain text to sink.
func (a *Archive) decodeIndex(ctx context.Context, raw io.Reader, open func(io.Reader) (io.Reader, error), name string, plain FileSum, sink *cacheFile, component string) ([]Package, error) {
	dec, err := open(ctxio.Reader(ctx, raw))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w: %w", name, ErrBadIndex, err)
	}
	return a.readIndex(io.TeeReader(dec, sink), name, plain, component)
}

// indexURL uses by-hash paths when the archive offers them, so the file
// cannot change under us between InRelease and this fetch.
func (a *Archive) indexURL(rel *Release, name string, sum FileSum) string {
	if rel.AcquireByHash {
		return a.distURL(path.Dir(name) + "/by-hash/SHA256/" + sum.SHA256)
	}
	return a.distURL(name)
}

// readIndex parses a decompressed index and, when the Release lists the
// uncompressed file, checks its digest too.
func (a *Archive) readIndex(r io.Reader, name string, plain FileSum, component string) ([]Package, error) {
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
		if err := checkSum(name+" (uncompressed)", plain, cr.n, h.Sum(nil)); err != nil {
			return nil, err
		}
	}
	for i := range pkgs {
		pkgs[i].Component = component
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
	// Chunks, joined once at the end: a whole index is about 70 000
	// entries, and growing one slice of them copies it over and over.
	var chunks [][]Package
	n := 0
	rd := deb822.NewReader(r)
	for {
		p, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse Packages: %w: %w", ErrBadIndex, err)
		}
		pkg, err := packageFrom(p)
		if err != nil {
			return nil, fmt.Errorf("parse Packages: %w: %w", ErrBadIndex, err)
		}
		if url != nil {
			pkg.URL = url(pkg.Filename)
		}
		if len(chunks) == 0 || len(chunks[len(chunks)-1]) == cap(chunks[len(chunks)-1]) {
			chunks = append(chunks, make([]Package, 0, 4096))
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], pkg)
		n++
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	pkgs := make([]Package, 0, n)
	for _, c := range chunks {
		pkgs = append(pkgs, c...)
	}
	return pkgs, nil
}

// packageFrom validates one paragraph into a Package.
func packageFrom(p deb822.Paragraph) (Package, error) {
	pkg := Package{
		Package: p.Value("Package"), Version: p.Value("Version"),
		Architecture: p.Value("Architecture"), Filename: p.Value("Filename"),
		SHA256: p.Value("SHA256"), PreDepends: p.Value("Pre-Depends"), Depends: p.Value("Depends"),
		Conflicts: p.Value("Conflicts"), Breaks: p.Value("Breaks"), Provides: p.Value("Provides"),
		Recommends: p.Value("Recommends"), Suggests: p.Value("Suggests"),
		Replaces: p.Value("Replaces"), Enhances: p.Value("Enhances"),
		MultiArch: p.Value("Multi-Arch"), Priority: p.Value("Priority"),
		Essential: p.Value("Essential") == "yes",
		Important: p.Value("Important") == "yes" || p.Value("Protected") == "yes",
	}
	if !ValidPackageName(pkg.Package) || !ValidPackageName(pkg.Architecture) {
		return Package{}, fmt.Errorf("entry %q: Package or Architecture missing or invalid (Architecture %q)", pkg.Package, pkg.Architecture)
	}
	v, err := version.Parse(pkg.Version)
	if err != nil {
		return Package{}, fmt.Errorf("entry %s: Version %q: %w", pkg.Package, pkg.Version, err)
	}
	pkg.Ver = v
	if pkg.MultiArch == "no" {
		pkg.MultiArch = ""
	}
	if !ValidSHA256(pkg.SHA256) {
		return Package{}, fmt.Errorf("entry %s: SHA256 %q", pkg.Package, pkg.SHA256)
	}
	if !safePoolPath(pkg.Filename) {
		return Package{}, fmt.Errorf("entry %s: Filename %q", pkg.Package, pkg.Filename)
	}
	size, err := strconv.ParseInt(p.Value("Size"), 10, 64)
	if err != nil || size <= 0 {
		return Package{}, fmt.Errorf("entry %s: Size %q", pkg.Package, p.Value("Size"))
	}
	pkg.Size = size
	return pkg, nil
}

// safePoolPath accepts a clean relative path that stays under the mirror
// root and has no characters that would change a URL's meaning.
func safePoolPath(p string) bool {
	return p != "" && path.Clean(p) == p && !path.IsAbs(p) && p != ".." &&
		!strings.HasPrefix(p, "../") && !strings.ContainsAny(p, "?#%\\ \t\n")
}
