package archive

import (
	"context"
	"errors"
	"fmt"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// ErrBadRelation is the class of malformed relationship fields (Depends,
// Provides, ...).
var ErrBadRelation = errors.New("bad relationship field")

// Relation is one alternative of a relationship field: a package name, an
// optional architecture qualifier and an optional version constraint.
type Relation struct {
	Name string
	// Arch is the qualifier after ':' ("any", "native" or an architecture
	// name), "" when there is none.
	Arch string
	// Op is "", "=", ">=", "<=", ">>" or "<<"; Version is set when Op is.
	Op      string
	Version version.Version
}

// String writes the relation as a control file does: "libc6:any (>= 2.36)".
func (r Relation) String() string {
	s := r.Name
	if r.Arch != "" {
		s += ":" + r.Arch
	}
	if r.Op != "" {
		s += " (" + r.Op + " " + r.Version.String() + ")"
	}
	return s
}

// Satisfies says whether v meets the relation's version constraint (any
// version does when there is none).
func (r Relation) Satisfies(v version.Version) bool {
	if r.Op == "" {
		return true
	}
	c := version.Compare(v, r.Version)
	switch r.Op {
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	case ">>":
		return c > 0
	case "<<":
		return c < 0
	}
	return false
}

// ParseRelations reads a binary package's relationship field into groups
// of alternatives ("a (>= 1) | b, c" -> [[a >= 1, b], [c]]) with
// pault.ag/go/debian/dependency. Architecture restriction lists and build
// profiles belong to source packages and are errors here, as are
// substitution variables and versions dpkg would not accept.
func ParseRelations(field string) (groups [][]Relation, err error) {
	defer func() {
		if r := recover(); r != nil {
			groups, err = nil, fmt.Errorf("parse relations %q: %w: parser panicked: %v", field, ErrBadRelation, r)
		}
	}()
	dep, err := dependency.Parse(field)
	if err != nil {
		return nil, fmt.Errorf("parse relations %q: %w: %w", field, ErrBadRelation, err)
	}
	for _, rel := range dep.Relations {
		var alts []Relation
		for _, p := range rel.Possibilities {
			r, err := relationFrom(p)
			if err != nil {
				return nil, fmt.Errorf("parse relations %q: %w: %w", field, ErrBadRelation, err)
			}
			alts = append(alts, r)
		}
		if len(alts) == 0 {
			return nil, fmt.Errorf("parse relations %q: %w: empty alternative", field, ErrBadRelation)
		}
		groups = append(groups, alts)
	}
	return groups, nil
}

// relationFrom converts and checks one of the library's possibilities.
func relationFrom(p dependency.Possibility) (Relation, error) {
	if p.Substvar {
		return Relation{}, fmt.Errorf("substitution variable ${%s}", p.Name)
	}
	if (p.Architectures != nil && len(p.Architectures.Architectures) > 0) || len(p.StageSets) > 0 {
		return Relation{}, fmt.Errorf("%s: restriction list in a binary package relation", p.Name)
	}
	if !ValidPackageName(p.Name) {
		return Relation{}, fmt.Errorf("package name %q", p.Name)
	}
	r := Relation{Name: p.Name}
	if p.Arch != nil {
		r.Arch = p.Arch.String()
		if !ValidPackageName(r.Arch) {
			return Relation{}, fmt.Errorf("%s: architecture qualifier %q", p.Name, r.Arch)
		}
	}
	if p.Version != nil {
		v, err := version.Parse(p.Version.Number)
		if err != nil {
			return Relation{}, fmt.Errorf("%s: version %q: %w", p.Name, p.Version.Number, err)
		}
		r.Op, r.Version = p.Version.Operator, v
	}
	return r, nil
}

// ValidPackageName accepts what Debian policy allows in a package name
// (lower-case letters, digits, '+', '-', '.', starting with a letter or
// digit); architecture names follow the same rule.
func ValidPackageName(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

// Newest returns the highest version of r.Name that meets r's constraint
// (pass Relation{Name: name} for any version).
func Newest(pkgs []Package, r Relation) (Package, bool) {
	var best Package
	found := false
	for _, p := range pkgs {
		if p.Package != r.Name || !r.Satisfies(p.Ver) {
			continue
		}
		if !found || version.Compare(p.Ver, best.Ver) > 0 {
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
