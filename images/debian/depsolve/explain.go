package depsolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// failure is why a package could not be installed: a dependency group no
// solution of which could be installed (tried), or a reason.
type failure struct {
	pkg    *Pkg
	group  []archive.Relation
	tried  []*Pkg
	reason string
}

// note records the latest failure of p.
func (s *state) note(p *Pkg, f *failure) { s.why[p] = f }

// explain follows the recorded failures from p down to the first
// dependency nothing can satisfy, as one line:
// "a 1 depends on b (>= 2) | c, b 2 depends on d, d is not in the archive".
func (s *state) explain(p *Pkg) string {
	var parts []string
	seen := map[*Pkg]bool{}
	for p != nil && !seen[p] {
		seen[p] = true
		f := s.why[p]
		switch {
		case f == nil:
			return strings.Join(append(parts, p.String()+" cannot be installed"), ", ")
		case f.group == nil:
			return strings.Join(append(parts, p.String()+": "+f.reason), ", ")
		}
		parts = append(parts, fmt.Sprintf("%s depends on %s", p, groupString(f.group)))
		var next *Pkg
		for _, q := range f.tried {
			if s.why[q] != nil && !seen[q] {
				next = q
				break
			}
		}
		if next == nil {
			parts = append(parts, s.unavailable(f.group, p))
		}
		p = next
	}
	return strings.Join(parts, ", ")
}

// unavailable says why no alternative of g could be installed.
func (s *state) unavailable(g []archive.Relation, owner *Pkg) string {
	var why []string
	for _, r := range g {
		why = append(why, s.describe(r, owner))
	}
	return strings.Join(why, "; ")
}

// describe says why nothing was installed for a relation.
func (s *state) describe(r archive.Relation, owner *Pkg) string {
	u := s.u
	if sat := u.satisfiers(r, owner, false); len(sat) > 0 {
		names := make([]string, len(sat))
		for i, p := range sat {
			names[i] = p.String()
			if s.block[p] != "" {
				names[i] += ": " + s.block[p]
			} else if f := s.why[p]; f != nil && f.group == nil {
				names[i] += ": " + f.reason
			} else {
				names[i] += " cannot be installed"
			}
		}
		return fmt.Sprintf("%s: %s", r, strings.Join(names, ", "))
	}
	var have []string
	if t, ok := u.pkgs[r.Name]; ok {
		have = append(have, t.Package.Package+" "+t.Version)
		if r.Arch == "any" && t.MultiArch != "allowed" {
			return fmt.Sprintf("%s: %s is not Multi-Arch: allowed", r, t)
		}
	}
	for _, pr := range u.providers(r.Name) {
		v := "without a version"
		if pr.versioned {
			v = r.Name + " " + pr.ver.String()
		}
		have = append(have, fmt.Sprintf("%s provides %s", pr.pkg, v))
	}
	if len(have) == 0 {
		return fmt.Sprintf("%s is not in the archive for %s", r.Name, u.Arch)
	}
	return fmt.Sprintf("%s: the archive has only %s", r, strings.Join(have, ", "))
}

func groupString(g []archive.Relation) string {
	alts := make([]string, len(g))
	for i, r := range g {
		alts[i] = r.String()
	}
	return strings.Join(alts, " | ")
}

// closeMatches returns up to three known names nearest to name by edit
// distance (ties by name), for "did you mean" hints.
func (u *Universe) closeMatches(name string) []string {
	type match struct {
		name string
		d    int
	}
	limit := max(2, len(name)/3)
	var ms []match
	for _, n := range u.names {
		if abs(len(n)-len(name)) > limit {
			continue
		}
		if d := editDistance(name, n); d <= limit {
			ms = append(ms, match{n, d})
		}
	}
	slices.SortStableFunc(ms, func(a, b match) int { return a.d - b.d })
	var out []string
	for i := 0; i < len(ms) && i < 3; i++ {
		out = append(out, ms[i].name)
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
