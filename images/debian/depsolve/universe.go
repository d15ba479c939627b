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
// (newest) version of every package, and who provides each name.
type Universe struct {
	// Arch is the architecture resolved for; Architecture: all packages
	// count as this architecture, as in apt.
	Arch string

	pkgs      map[string]*Pkg       // candidate per package name
	providers map[string][]provider // name -> candidates that Provide it
	ids       map[string]int        // apt's package ID for each name
	names     []string              // every real and virtual name, sorted
}

// Pkg is a candidate package of a Universe.
type Pkg struct {
	*archive.Package

	id   int // apt's package ID: the order in which its cache first met the name
	prio int // apt's priority number: 1 required ... 5 extra, 0 when absent

	parsed bool
	err    error                // a relationship field did not parse
	deps   [][]archive.Relation // Pre-Depends groups, then Depends groups
	pre    int                  // how many groups of deps are Pre-Depends
	neg    []archive.Relation   // Conflicts, then Breaks
}

// String is "name version".
func (p *Pkg) String() string { return p.Package.Package + " " + p.Version }

// provider is one Provides entry of a candidate.
type provider struct {
	pkg *Pkg
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
// arch. Packages of other architectures are ignored.
func NewUniverse(arch string, pkgs []archive.Package) *Universe {
	u := &Universe{Arch: arch, pkgs: map[string]*Pkg{}, providers: map[string][]provider{}, ids: map[string]int{}}
	for i := range pkgs {
		p := &pkgs[i]
		u.countNames(p)
		if p.Architecture != arch && p.Architecture != "all" {
			continue
		}
		if old, ok := u.pkgs[p.Package]; ok && version.Compare(p.Ver, old.Ver) <= 0 {
			continue
		}
		u.pkgs[p.Package] = &Pkg{Package: p, prio: priority(p.Priority)}
	}
	for _, p := range u.pkgs {
		p.id = u.ids[p.Package.Package]
	}
	u.indexProvides()
	u.indexNames()
	return u
}

// countNames gives every name an entry mentions an ID in the order apt's
// cache generator creates packages: the entry's own name, then each name
// in Pre-Depends, Depends, Conflicts, Breaks, Recommends, Suggests,
// Replaces, Enhances and Provides. apt breaks its last tie between
// providers by this ID, so the order must be the same.
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

// indexProvides records every candidate's Provides. apt ignores Provides
// with an operator other than "=", and so does this.
func (u *Universe) indexProvides() {
	for _, name := range u.sortedNames() {
		p := u.pkgs[name]
		if p.Provides == "" {
			continue
		}
		groups, err := archive.ParseRelations(p.Provides)
		if err != nil {
			p.err = fmt.Errorf("%s: Provides: %w", p, err)
			continue
		}
		for _, g := range groups {
			for _, r := range g {
				if r.Op != "" && r.Op != "=" {
					continue
				}
				u.providers[r.Name] = append(u.providers[r.Name], provider{pkg: p, ver: r.Version, versioned: r.Op == "="})
			}
		}
	}
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
	for n := range u.providers {
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
