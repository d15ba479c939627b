package depsolve

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"pault.ag/go/debian/version"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// Universe is what one architecture of one suite offers: the candidate
// (newest) version of every package, and who provides each name. It
// parses lazily and so is not safe for concurrent use.
type Universe struct {
	// Arch is the architecture resolved for; Architecture: all packages
	// count as this architecture, as in apt.
	Arch string

	pkgs     map[string]*Pkg   // candidate per package name
	provides map[string][]*Pkg // name -> candidates whose Provides mention it, by name
	names    []string          // every real and virtual name, sorted

	all     []archive.Package // the index entries, in apt's reading order
	ids     map[string]int    // apt's package ID per name, computed when first needed
	idsDone bool
}

// Pkg is a candidate package of a Universe.
type Pkg struct {
	*archive.Package

	prio int // apt's priority number: 1 required ... 5 extra, 0 when absent
	pos  int // index of its entry in the Packages files, in reading order

	parsed bool
	err    error                // a relationship field did not parse
	deps   [][]archive.Relation // Pre-Depends groups, then Depends groups
	pre    int                  // how many groups of deps are Pre-Depends
	neg    []archive.Relation   // Conflicts, then Breaks

	provParsed bool
	provides   []provider // parsed Provides, when first needed
}

// String is "name version".
func (p *Pkg) String() string { return p.Package.Package + " " + p.Version }

// provider is one Provides entry of a candidate.
type provider struct {
	pkg  *Pkg
	name string
	// ver is the provided version; versioned is false for an unversioned
	// Provides, which satisfies only unversioned relations.
	ver       version.Version
	versioned bool
}

// Load reads the given components of a suite for arch into a Universe.
func Load(ctx context.Context, a *archive.Archive, components []string, arch string) (*Universe, error) {
	var all []archive.Package
	for _, c := range components {
		pkgs, err := a.ComponentPackages(ctx, c, arch)
		if err != nil {
			return nil, err
		}
		all = append(all, pkgs...)
	}
	return NewUniverse(arch, all), nil
}

// NewUniverse indexes packages (in index order, as apt reads them) for
// arch. Packages of other architectures are ignored. Relationship fields
// are parsed only for the packages a resolution looks at.
func NewUniverse(arch string, pkgs []archive.Package) *Universe {
	u := &Universe{Arch: arch, pkgs: make(map[string]*Pkg, len(pkgs)), provides: map[string][]*Pkg{}, all: pkgs}
	for i := range pkgs {
		p := &pkgs[i]
		if p.Architecture != arch && p.Architecture != "all" {
			continue
		}
		if old, ok := u.pkgs[p.Package]; ok && version.Compare(p.Ver, old.Ver) <= 0 {
			continue
		}
		u.pkgs[p.Package] = &Pkg{Package: p, prio: priority(p.Priority), pos: i}
	}
	for _, name := range u.sortedNames() {
		p := u.pkgs[name]
		fieldNames(p.Provides, func(v string) {
			if l := u.provides[v]; len(l) == 0 || l[len(l)-1] != p {
				u.provides[v] = append(l, p)
			}
		})
	}
	u.indexNames()
	return u
}

// id is apt's package ID of p: apt breaks its last tie between providers
// by it.
func (u *Universe) id(p *Pkg) int {
	if !u.idsDone {
		u.ids = make(map[string]int, 2*len(u.all)) // Debian's names are about 1.5 per entry
		for i := range u.all {
			u.countNames(&u.all[i])
		}
		u.idsDone = true
	}
	return u.ids[p.Package.Package]
}

// countNames gives every name an entry mentions an ID in the order apt's
// cache generator creates packages: the entry's own name, then each name
// in Pre-Depends, Depends, Conflicts, Breaks, Recommends, Suggests,
// Replaces, Enhances and Provides.
func (u *Universe) countNames(p *archive.Package) {
	mention := func(name string) {
		if _, ok := u.ids[name]; !ok {
			u.ids[name] = len(u.ids)
		}
	}
	mention(p.Package)
	for _, f := range []string{p.PreDepends, p.Depends, p.Conflicts, p.Breaks, p.Recommends, p.Suggests, p.Replaces, p.Enhances, p.Provides} {
		fieldNames(f, mention)
	}
}

// fieldNames calls each for the unqualified names a relationship field
// mentions, in written order, without parsing versions: a cheap scan over
// a whole index. A name with an architecture qualifier ("perl:any") is a
// package of its own to apt and does not count.
func fieldNames(field string, each func(name string)) {
	for field != "" {
		item := field
		if i := strings.IndexAny(field, ",|"); i >= 0 {
			item, field = field[:i], field[i+1:]
		} else {
			field = ""
		}
		item = strings.TrimSpace(item)
		if j := strings.IndexAny(item, " \t\n(:[<"); j >= 0 {
			if item[j] == ':' {
				continue
			}
			item = item[:j]
		}
		if item != "" {
			each(item)
		}
	}
}

// providers returns the Provides entries of every candidate that provides
// name, parsing each candidate's field once. apt ignores Provides with an
// operator other than "=", and so does this. A field that does not parse
// makes its package unusable (its error says why).
func (u *Universe) providers(name string) []provider {
	var out []provider
	for _, p := range u.provides[name] {
		for _, pr := range p.parseProvides() {
			if pr.name == name {
				out = append(out, pr)
			}
		}
	}
	return out
}

func (p *Pkg) parseProvides() []provider {
	if p.provParsed {
		return p.provides
	}
	p.provParsed = true
	groups, err := archive.ParseRelations(p.Provides)
	if err != nil {
		p.err = fmt.Errorf("%s: Provides: %w", p, err)
		return nil
	}
	for _, g := range groups {
		for _, r := range g {
			if r.Arch == "" && (r.Op == "" || r.Op == "=") {
				p.provides = append(p.provides, provider{pkg: p, name: r.Name, ver: r.Version, versioned: r.Op == "="})
			}
		}
	}
	return p.provides
}

// sortedNames lists the candidates' names in order.
func (u *Universe) sortedNames() []string {
	names := make([]string, 0, len(u.pkgs))
	for n := range u.pkgs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (u *Universe) indexNames() {
	u.names = u.sortedNames()
	for n := range u.provides {
		if _, real := u.pkgs[n]; !real {
			u.names = append(u.names, n)
		}
	}
	slices.Sort(u.names)
}

// Package returns the candidate named name.
func (u *Universe) Package(name string) (*Pkg, bool) {
	p, ok := u.pkgs[name]
	return p, ok
}

// priority maps a Priority field to apt's number (lower ranks first).
func priority(s string) int {
	switch strings.ToLower(s) {
	case "":
		return 0
	case "required":
		return 1
	case "important":
		return 2
	case "standard":
		return 3
	case "optional":
		return 4
	}
	return 5
}

// relations parses a candidate's dependency fields once.
func (p *Pkg) relations() error {
	if p.parsed {
		return p.err
	}
	p.parsed = true
	if p.err != nil {
		return p.err
	}
	parse := func(field, value string) [][]archive.Relation {
		if value == "" || p.err != nil {
			return nil
		}
		g, err := archive.ParseRelations(value)
		if err != nil {
			p.err = fmt.Errorf("%s: %s: %w", p, field, err)
		}
		return g
	}
	pre := parse("Pre-Depends", p.PreDepends)
	p.deps = append(pre, parse("Depends", p.Depends)...)
	p.pre = len(pre)
	for _, g := range append(parse("Conflicts", p.Conflicts), parse("Breaks", p.Breaks)...) {
		p.neg = append(p.neg, g...)
	}
	return p.err
}
