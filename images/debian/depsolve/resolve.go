package depsolve

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// Error classes: all three are mistakes in the request (exit status 2),
// not failures of the archive or the network.
var (
	// ErrBadRequest: an unknown variant, a malformed name, a name both
	// asked for and excluded, or a virtual package with several providers.
	ErrBadRequest = errors.New("bad package request")
	// ErrUnknownPackage: a name the archive does not have.
	ErrUnknownPackage = errors.New("unknown package")
	// ErrUnsatisfiable: no installable set holds what was asked for.
	ErrUnsatisfiable = errors.New("unsatisfiable package request")
)

// Variant chooses the base set, as mmdebstrap's variants of those names.
type Variant string

const (
	// VariantNone installs only the requested packages and what they need.
	VariantNone Variant = "none"
	// VariantEssential adds the Essential: yes packages and what they need.
	VariantEssential Variant = "essential"
	// VariantMinbase adds to that apt and every Priority: required package
	// (mmdebstrap's "required", alias "minbase").
	VariantMinbase Variant = "minbase"
)

// Request is what to install into an empty system.
type Request struct {
	// Variant defaults to VariantNone.
	Variant  Variant
	Packages []string
	// Exclude names packages that must not be installed, even when the
	// variant would (as "name-" on apt-get's command line).
	Exclude []string
}

// Result is a resolved request.
type Result struct {
	// Packages in install order: each after what it depends on (strictly
	// so for Pre-Depends; within a dependency cycle by name), the
	// essential set first.
	Packages []*archive.Package
	// Essential is how many of Packages form the essential set: the
	// Essential: yes packages and their dependencies (0 for VariantNone).
	Essential int
	// Auto names the packages of the second phase that apt would mark
	// automatically installed: pulled in as dependencies, not asked for
	// (the request's packages, and apt and Priority: required for
	// minbase, are asked for). The essential set is installed with dpkg
	// and never marked.
	Auto map[string]bool
}

// Resolve selects the packages an apt-get install of req into an empty
// system would, with Recommends off, the way mmdebstrap runs apt: first
// the essential set (all Essential: yes packages as one request), then,
// with those installed, the requested packages (and for minbase apt and
// the Priority: required packages). The same Universe and Request give the
// same Result.
func (u *Universe) Resolve(req Request) (*Result, error) {
	wanted, err := u.lookupRequest(req)
	if err != nil {
		return nil, err
	}
	s := newState(u)
	for _, p := range wanted.excluded {
		s.block[p] = "it is excluded"
	}
	var essential []*Pkg
	if req.Variant == VariantEssential || req.Variant == VariantMinbase {
		essential = s.phase(u.essentialSet(s))
	}
	asked := u.secondPhase(req.Variant, wanted.packages, s)
	rest := s.phase(asked)
	if err := s.verify(wanted.packages); err != nil {
		return nil, err
	}
	r, err := s.result(essential, rest)
	if err != nil {
		return nil, err
	}
	r.Auto = map[string]bool{}
	for _, p := range rest {
		if !slices.Contains(asked, p) {
			r.Auto[p.Package.Package] = true
		}
	}
	return r, nil
}

// request is a Request with its names looked up.
type request struct {
	packages, excluded []*Pkg
}

// lookupRequest checks the request and finds its packages.
func (u *Universe) lookupRequest(req Request) (*request, error) {
	switch req.Variant {
	case "", VariantNone, VariantEssential, VariantMinbase:
	default:
		return nil, fmt.Errorf("variant %q: %w; use minbase, essential or none", req.Variant, ErrBadRequest)
	}
	r := &request{}
	for _, name := range req.Exclude {
		p, err := u.lookup(name)
		if err != nil {
			return nil, fmt.Errorf("exclude %w", err)
		}
		r.excluded = append(r.excluded, p)
	}
	for _, name := range req.Packages {
		p, err := u.lookup(name)
		if err != nil {
			return nil, err
		}
		if slices.Contains(r.excluded, p) {
			return nil, fmt.Errorf("%s: %w: both requested and excluded", name, ErrBadRequest)
		}
		if !slices.Contains(r.packages, p) {
			r.packages = append(r.packages, p)
		}
	}
	return r, nil
}

// lookup finds a requested or excluded name: a package, or a virtual
// package with one provider (apt selects that one).
func (u *Universe) lookup(name string) (*Pkg, error) {
	if !archive.ValidPackageName(name) {
		return nil, fmt.Errorf("%q: %w: not a package name", name, ErrBadRequest)
	}
	if p, ok := u.pkgs[name]; ok {
		return p, nil
	}
	var provs []string
	var only *Pkg
	for _, pr := range u.providers(name) {
		if !slices.Contains(provs, pr.pkg.Package.Package) {
			provs = append(provs, pr.pkg.Package.Package)
			only = pr.pkg
		}
	}
	switch {
	case len(provs) == 0:
		hint := ""
		if m := u.closeMatches(name); len(m) > 0 {
			hint = "; close matches: " + strings.Join(m, ", ")
		}
		return nil, fmt.Errorf("%s: %w: not in the archive for %s%s", name, ErrUnknownPackage, u.Arch, hint)
	case len(provs) == 1:
		return only, nil
	}
	slices.Sort(provs)
	return nil, fmt.Errorf("%s: %w: a virtual package provided by %s; name one of them", name, ErrBadRequest, strings.Join(provs, ", "))
}

// essentialSet is every Essential: yes candidate not excluded, in index
// order.
func (u *Universe) essentialSet(s *state) []*Pkg {
	var out []*Pkg
	for _, p := range u.pkgs {
		if p.Essential && s.block[p] == "" {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, byPos)
	return out
}

// secondPhase is what apt-get install is given after the essential set:
// the requested packages, then for minbase apt and the Priority: required
// packages that are not Essential (in index order).
func (u *Universe) secondPhase(v Variant, packages []*Pkg, s *state) []*Pkg {
	out := slices.Clone(packages)
	if v != VariantMinbase {
		return out
	}
	var required []*Pkg
	for _, p := range u.pkgs {
		if p.prio == 1 && !p.Essential && p.Package.Package != "apt" {
			required = append(required, p)
		}
	}
	slices.SortFunc(required, byPos)
	if apt, ok := u.pkgs["apt"]; ok {
		required = append([]*Pkg{apt}, required...)
	}
	for _, p := range required {
		if s.block[p] == "" && !s.inst[p] && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// byPos orders packages as their entries appear in the index. (apt-get
// takes a pattern's matches in its hash table's order; no order is more
// apt's than another, and the result does not depend on it for Debian's
// archive: see the reference test.)
func byPos(a, b *Pkg) int { return a.pos - b.pos }

// phase runs one apt-get install of list, as apt-get does: mark every
// package (protected), then mark each one's dependencies, then let the
// problem resolver finish; the result counts as installed afterwards. It
// returns what the phase added, by name.
func (s *state) phase(list []*Pkg) []*Pkg {
	for _, p := range list {
		s.mark[p], s.prot[p] = true, true
	}
	for _, p := range list {
		s.markInstall(p, true)
	}
	s.fixBroken()
	var added []*Pkg
	for p := range s.mark {
		added = append(added, p)
		s.inst[p] = true
	}
	clear(s.mark)
	clear(s.prot)
	slices.SortFunc(added, byName)
	return added
}

// fixBroken stands in for apt's problem resolver in the one case a fresh
// install meets: a marked package whose dependency lost its solution when
// a conflict unmarked it. It installs a solution again, as the resolver
// would, until nothing changes.
func (s *state) fixBroken() {
	for round := 0; round < 10; round++ {
		changed := false
		for _, p := range s.sortedMarked() {
			for _, g := range p.deps {
				if s.satisfied(g, p) {
					continue
				}
				for _, q := range s.solutions(g, p) {
					if s.markInstall(q, false) {
						changed = true
						break
					}
				}
			}
		}
		if !changed {
			return
		}
	}
}

func (s *state) sortedMarked() []*Pkg {
	var out []*Pkg
	for p := range s.mark {
		out = append(out, p)
	}
	slices.SortFunc(out, byPos)
	return out
}
