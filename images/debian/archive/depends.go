package archive

import (
	"context"
	"fmt"
	"strings"
)

// Relation is one alternative of a Depends-style field: a name with an
// optional version constraint ("=", ">=", "<<", ...).
type Relation struct {
	Name, Op, Version string
}

// ParseRelations reads a Depends/Pre-Depends field into groups of
// alternatives ("a (>= 1) | b, c" -> [[a >= 1, b], [c]]). Architecture
// qualifiers (":any") and restriction lists are dropped.
func ParseRelations(field string) [][]Relation {
	var groups [][]Relation
	for _, group := range strings.Split(field, ",") {
		var alts []Relation
		for _, alt := range strings.Split(group, "|") {
			if r, ok := parseRelation(alt); ok {
				alts = append(alts, r)
			}
		}
		if len(alts) > 0 {
			groups = append(groups, alts)
		}
	}
	return groups
}

func parseRelation(s string) (Relation, bool) {
	s, _, _ = strings.Cut(s, "[")
	s, _, _ = strings.Cut(s, "<!")
	name, constraint, _ := strings.Cut(strings.TrimSpace(s), "(")
	name, _, _ = strings.Cut(strings.TrimSpace(name), ":")
	if name == "" {
		return Relation{}, false
	}
	r := Relation{Name: name}
	constraint = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(constraint), ")"))
	for _, op := range []string{">=", "<=", ">>", "<<", "=", ">", "<"} {
		if v, ok := strings.CutPrefix(constraint, op); ok {
			r.Op, r.Version = op, strings.TrimSpace(v)
			break
		}
	}
	return r, true
}

// Satisfies says whether version meets the relation's constraint.
func (r Relation) Satisfies(version string) bool {
	c := CompareVersions(version, r.Version)
	switch r.Op {
	case "":
		return true
	case "=":
		return c == 0
	case ">=", ">":
		return c >= 0
	case "<=", "<":
		return c <= 0
	case ">>":
		return c > 0
	case "<<":
		return c < 0
	}
	return false
}

// Newest returns the highest version of name that meets r's constraint
// (pass Relation{Name: name} for any version).
func Newest(pkgs []Package, r Relation) (Package, bool) {
	var best Package
	found := false
	for _, p := range pkgs {
		if p.Package != r.Name || !r.Satisfies(p.Version) {
			continue
		}
		if !found || CompareVersions(p.Version, best.Version) > 0 {
			best, found = p, true
		}
	}
	return best, found
}

// ResolvePackage returns the newest version of name in main/binary-<arch>:
// its URL, SHA256 and Size pin it for a later Download.
func (a *Archive) ResolvePackage(ctx context.Context, arch, name string) (Package, error) {
	pkgs, err := a.Packages(ctx, arch)
	if err != nil {
		return Package{}, err
	}
	p, ok := Newest(pkgs, Relation{Name: name})
	if !ok {
		return Package{}, fmt.Errorf("resolve package %s in %s/%s: %w", name, a.Suite, arch, ErrNotFound)
	}
	return p, nil
}
