package depsolve

import (
	"slices"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// state is one run of apt's classic marking (apt-pkg/depcache.cc
// MarkInstall, 2.6) over a Universe, for a system with nothing installed
// but earlier phases: what a phase installs, protects and excludes.
type state struct {
	u *Universe

	inst  map[*Pkg]bool   // installed by an earlier phase (apt: CurrentVer)
	mark  map[*Pkg]bool   // marked for installation in this phase
	prot  map[*Pkg]bool   // protected: asked for, or the only way to satisfy what was
	block map[*Pkg]string // may not be installed, and why: excluded, or in conflict with a protected package
	busy  map[*Pkg]bool   // being marked further up the stack
	why   map[*Pkg]*failure
}

func newState(u *Universe) *state {
	return &state{u: u, inst: map[*Pkg]bool{}, mark: map[*Pkg]bool{}, prot: map[*Pkg]bool{},
		block: map[*Pkg]string{}, busy: map[*Pkg]bool{}, why: map[*Pkg]*failure{}}
}

func (s *state) selected(p *Pkg) bool { return s.inst[p] || s.mark[p] }

// satisfiers returns the candidates that satisfy r, as apt's
// FromDependency does for candidates: the package named r.Name if its
// version fits, then every provider whose provided version fits (an
// unversioned Provides never fits a versioned relation). "name:any" is
// satisfied only by Multi-Arch: allowed packages and providers. For a
// negative relation of owner, owner itself is left out: a package may
// conflict with a name it provides.
func (u *Universe) satisfiers(r archive.Relation, owner *Pkg, negative bool) []*Pkg {
	anyArch := r.Arch == "any"
	if r.Arch != "" && !anyArch && r.Arch != "native" && r.Arch != u.Arch {
		return nil
	}
	var out []*Pkg
	if t, ok := u.pkgs[r.Name]; ok && r.Satisfies(t.Ver) && !(negative && t == owner) &&
		(!anyArch || t.MultiArch == "allowed") {
		out = append(out, t)
	}
	if r.Arch != "" && !anyArch {
		return out
	}
	for _, pr := range u.providers(r.Name) {
		switch {
		case negative && pr.pkg == owner, anyArch && pr.pkg.MultiArch != "allowed":
		case r.Op != "" && (!pr.versioned || !r.Satisfies(pr.ver)):
		default:
			out = append(out, pr.pkg)
		}
	}
	return out
}

// satisfied says whether a group of alternatives is met by what is
// installed or marked (apt's DepInstall).
func (s *state) satisfied(g []archive.Relation, owner *Pkg) bool {
	for _, r := range g {
		for _, p := range s.u.satisfiers(r, owner, false) {
			if s.selected(p) {
				return true
			}
		}
	}
	return false
}

// solutions lists the candidates that could satisfy a group, best first,
// as apt's getAllPossibleSolutions: alternatives in written order, the
// candidates of each sorted by compareProviders, installed ones before new
// ones, blocked ones left out.
func (s *state) solutions(g []archive.Relation, owner *Pkg) []*Pkg {
	var installed, fresh []*Pkg
	for _, r := range g {
		cands := s.u.satisfiers(r, owner, false)
		target := ""
		if r.Arch == "" {
			target = r.Name
		}
		slices.SortFunc(cands, func(a, b *Pkg) int { return s.compareProviders(a, b, target) })
		for _, c := range cands {
			if s.inst[c] {
				installed = append(installed, c)
			} else {
				fresh = append(fresh, c)
			}
		}
	}
	all := slices.Compact(append(installed, fresh...))
	return slices.DeleteFunc(all, func(p *Pkg) bool { return s.block[p] != "" })
}

// compareProviders orders candidates for one relation as apt's
// CompareProviders does (apt-pkg/depcache.cc): protected, installed, the
// package that has the relation's own name, Essential, Important, higher
// Priority, and last the higher apt package ID. (The Multi-Arch: same and
// native-architecture rules cannot differ within one architecture.)
func (s *state) compareProviders(a, b *Pkg, target string) int {
	rules := []struct{ a, b bool }{
		{s.prot[a], s.prot[b]},
		{s.inst[a], s.inst[b]},
		{a.Package.Package == target, b.Package.Package == target},
		{a.Essential, b.Essential},
		{a.Important, b.Important},
	}
	for _, r := range rules {
		if r.a != r.b {
			if r.a {
				return -1
			}
			return 1
		}
	}
	if a.prio != b.prio {
		return a.prio - b.prio
	}
	return s.u.id(b) - s.u.id(a)
}

// markInstall is apt's MarkInstall(Pkg, AutoInst=true): mark p, then for
// each Pre-Depends and Depends group not yet met install the first
// solution that can be installed. A package that cannot be installed
// (a dependency fails, or it conflicts with something that must stay) is
// unmarked again and false returned, so the caller tries its next
// alternative; what it marked on the way stays marked, as in apt.
// Packages asked for (fromUser) and protected ones are kept even when a
// dependency fails; the final check reports them.
func (s *state) markInstall(p *Pkg, fromUser bool) bool {
	switch {
	case s.block[p] != "":
		s.note(p, &failure{pkg: p, reason: s.block[p]})
		return false
	case s.inst[p], s.busy[p], s.mark[p] && !s.prot[p]:
		return true
	}
	if err := p.relations(); err != nil {
		s.note(p, &failure{pkg: p, reason: err.Error()})
		return false
	}
	s.busy[p] = true
	defer delete(s.busy, p)
	protected := s.prot[p]
	failEarly := !protected && !fromUser
	var todo [][]archive.Relation
	for _, g := range p.deps {
		if protected || !s.satisfied(g, p) {
			todo = append(todo, g)
		}
	}
	failed := !s.removeConflicts(p)
	if failed && failEarly {
		return false
	}
	s.mark[p] = true
	if !s.installDependencies(p, todo, protected, failEarly) {
		if failEarly {
			delete(s.mark, p)
			return false
		}
		failed = true
	}
	return !failed
}

// installDependencies is apt's MarkInstall_InstallDependencies.
func (s *state) installDependencies(p *Pkg, todo [][]archive.Relation, protected, failEarly bool) bool {
	ok := true
	for _, g := range todo {
		if s.satisfied(g, p) {
			if protected && !s.propagateProtected(g, p) {
				ok = false
			}
			continue
		}
		sols := s.solutions(g, p)
		found := false
		for _, q := range sols {
			if protected && len(sols) == 1 {
				s.prot[q] = true
			}
			if s.markInstall(q, false) {
				found = true
				break
			}
		}
		if !found {
			s.note(p, &failure{pkg: p, group: g, tried: sols})
			ok = false
			if failEarly {
				return false
			}
		}
	}
	return ok
}

// propagateProtected: a protected package's dependency that only one
// package can satisfy makes that package protected too (apt does this so
// that conflicts cannot remove it later).
func (s *state) propagateProtected(g []archive.Relation, p *Pkg) bool {
	var all []*Pkg
	for _, r := range g {
		all = append(all, s.u.satisfiers(r, p, false)...)
	}
	all = slices.Compact(all)
	if len(all) != 1 || s.prot[all[0]] {
		return true
	}
	s.prot[all[0]] = true
	return s.markInstall(all[0], false)
}

// removeConflicts is apt's MarkInstall_RemoveConflictsIfNotUpgradeable for
// a fresh system: a marked package p's Conflicts or Breaks match is
// unmarked unless it is protected or installed (then p cannot be
// installed); a protected p blocks what it conflicts with. Unlike apt, a
// package that an already selected package conflicts with (or breaks) is
// not installable either: apt leaves that to its problem resolver.
func (s *state) removeConflicts(p *Pkg) bool {
	for _, r := range p.neg {
		for _, q := range s.u.satisfiers(r, p, true) {
			switch {
			case s.inst[q] || (s.mark[q] && s.prot[q]):
				s.note(p, &failure{pkg: p, reason: "it conflicts with " + q.String() + " (" + r.String() + ")"})
				return false
			case s.mark[q]:
				delete(s.mark, q)
			case s.prot[p]:
				s.block[q] = "it conflicts with " + p.String() + " (" + r.String() + "), which must be installed"
			}
		}
	}
	if q, r := s.conflictedBy(p); q != nil {
		s.note(p, &failure{pkg: p, reason: q.String() + " conflicts with it (" + r.String() + ")"})
		return false
	}
	return true
}

// conflictedBy finds a selected package whose Conflicts or Breaks match p.
func (s *state) conflictedBy(p *Pkg) (*Pkg, archive.Relation) {
	for _, q := range s.selectedList() {
		if q.relations() != nil {
			continue
		}
		for _, r := range q.neg {
			if slices.Contains(s.u.satisfiers(r, q, true), p) {
				return q, r
			}
		}
	}
	return nil, archive.Relation{}
}

// selectedList is every installed or marked package, by name.
func (s *state) selectedList() []*Pkg {
	var out []*Pkg
	for p := range s.inst {
		out = append(out, p)
	}
	for p := range s.mark {
		if !s.inst[p] {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, byName)
	return out
}

func byName(a, b *Pkg) int {
	switch {
	case a.Package.Package < b.Package.Package:
		return -1
	case a.Package.Package > b.Package.Package:
		return 1
	}
	return 0
}
