package depsolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// verify checks the final selection: every requested package is in it,
// every dependency of every package is met inside it, and no two of them
// conflict. It is what makes a solver bug an error instead of a broken
// system, and it names the failing dependency chain.
func (s *state) verify(requested []*Pkg) error {
	for _, p := range requested {
		if !s.inst[p] {
			return fmt.Errorf("%w: %s", ErrUnsatisfiable, s.explain(p))
		}
	}
	var problems []string
	for _, p := range s.selectedList() {
		if err := p.relations(); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, g := range p.deps {
			if !s.satisfied(g, p) {
				problems = append(problems, s.requestPath(p, requested)+s.explainBroken(p, g))
			}
		}
		for _, r := range p.neg {
			for _, q := range s.u.satisfiers(r, p, true) {
				if s.inst[q] {
					problems = append(problems, fmt.Sprintf("%s conflicts with %s (%s)", p, q, r))
				}
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		problems = slices.Compact(problems)
		if n := len(problems) - 2; n > 0 {
			problems = append(problems[:2], fmt.Sprintf("and %d more", n))
		}
		return fmt.Errorf("%w: %s", ErrUnsatisfiable, strings.Join(problems, "; "))
	}
	return nil
}

// explainBroken says why a selected package's dependency is unmet.
func (s *state) explainBroken(p *Pkg, g []archive.Relation) string {
	if f := s.why[p]; f != nil && f.group != nil && groupString(f.group) == groupString(g) {
		return s.explain(p)
	}
	var tried []string
	for _, q := range s.solutions(g, p) {
		if s.why[q] != nil {
			return fmt.Sprintf("%s depends on %s, %s", p, groupString(g), s.explain(q))
		}
		tried = append(tried, q.String())
	}
	if len(tried) == 0 {
		return fmt.Sprintf("%s depends on %s, %s", p, groupString(g), s.unavailable(g, p))
	}
	return fmt.Sprintf("%s depends on %s, but %s is not installed", p, groupString(g), strings.Join(tried, " or "))
}

// requestPath is how a requested package came to need p, as the start of
// an explanation ("top 1 depends on mid, "), "" when p was requested.
func (s *state) requestPath(p *Pkg, requested []*Pkg) string {
	from := map[*Pkg]*Pkg{}
	queue := slices.Clone(requested)
	for _, r := range requested {
		from[r] = nil
	}
	for len(queue) > 0 && !slices.Contains(queue, p) {
		q := queue[0]
		queue = queue[1:]
		for _, g := range q.deps {
			for _, r := range g {
				for _, d := range s.u.satisfiers(r, q, false) {
					if _, seen := from[d]; !seen && s.inst[d] {
						from[d] = q
						queue = append(queue, d)
					}
				}
			}
		}
	}
	var chain []string
	for cur := p; from[cur] != nil; cur = from[cur] {
		chain = append([]string{fmt.Sprintf("%s depends on %s, ", from[cur], cur.Package.Package)}, chain...)
	}
	return strings.Join(chain, "")
}
