package depsolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// result orders each phase's packages for installation.
func (s *state) result(essential, rest []*Pkg) (*Result, error) {
	r := &Result{}
	for _, set := range [][]*Pkg{essential, rest} {
		ordered, err := s.installOrder(set)
		if err != nil {
			return nil, err
		}
		for _, p := range ordered {
			r.Packages = append(r.Packages, p.Package)
		}
	}
	r.Essential = len(essential)
	return r, nil
}

// edge is a dependency of one package on another of the same set.
type edge struct {
	to  *Pkg
	pre bool
}

// installOrder puts set (sorted by name) in dependency order: the strongly
// connected components of the dependency graph, each after the ones it
// depends on (Tarjan's algorithm emits them so), and inside a component by
// name, moved only as far as its Pre-Depends require.
func (s *state) installOrder(set []*Pkg) ([]*Pkg, error) {
	in := map[*Pkg]bool{}
	for _, p := range set {
		in[p] = true
	}
	edges := map[*Pkg][]edge{}
	for _, p := range set {
		edges[p] = s.edges(p, in)
	}
	var out []*Pkg
	for _, scc := range tarjan(set, edges) {
		ordered, err := preDependsOrder(scc, edges)
		if err != nil {
			return nil, err
		}
		out = append(out, ordered...)
	}
	return out, nil
}

// edges lists, for each Pre-Depends and Depends group of p, the package of
// the set that satisfies it: the first alternative (in written order) met
// in the set, and of its satisfiers the first by name.
func (s *state) edges(p *Pkg, in map[*Pkg]bool) []edge {
	var out []edge
	for i, g := range p.deps {
		if to := s.satisfierIn(g, p, in); to != nil && to != p {
			out = append(out, edge{to: to, pre: i < p.pre})
		}
	}
	return out
}

func (s *state) satisfierIn(g []archive.Relation, p *Pkg, in map[*Pkg]bool) *Pkg {
	for _, r := range g {
		var sat []*Pkg
		for _, q := range s.u.satisfiers(r, p, false) {
			if in[q] {
				sat = append(sat, q)
			}
		}
		if len(sat) > 0 {
			slices.SortFunc(sat, byName)
			return sat[0]
		}
	}
	return nil
}

// tarjan returns the strongly connected components of the graph, each
// after every component it has an edge to, each sorted by name.
func tarjan(nodes []*Pkg, edges map[*Pkg][]edge) [][]*Pkg {
	t := &tarjanState{edges: edges, index: map[*Pkg]int{}, low: map[*Pkg]int{}, on: map[*Pkg]bool{}}
	for _, n := range nodes {
		if _, seen := t.index[n]; !seen {
			t.visit(n)
		}
	}
	return t.out
}

type tarjanState struct {
	edges map[*Pkg][]edge
	index map[*Pkg]int
	low   map[*Pkg]int
	on    map[*Pkg]bool
	stack []*Pkg
	out   [][]*Pkg
}

func (t *tarjanState) visit(v *Pkg) {
	t.index[v] = len(t.index)
	t.low[v] = t.index[v]
	t.stack = append(t.stack, v)
	t.on[v] = true
	for _, e := range t.edges[v] {
		if _, seen := t.index[e.to]; !seen {
			t.visit(e.to)
			t.low[v] = min(t.low[v], t.low[e.to])
		} else if t.on[e.to] {
			t.low[v] = min(t.low[v], t.index[e.to])
		}
	}
	if t.low[v] != t.index[v] {
		return
	}
	var scc []*Pkg
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.on[w] = false
		scc = append(scc, w)
		if w == v {
			break
		}
	}
	slices.SortFunc(scc, byName)
	t.out = append(t.out, scc)
}

// preDependsOrder orders one component by name, except that a package
// comes after every package of the component it pre-depends on (Kahn's
// algorithm, taking the first by name of those that are ready).
func preDependsOrder(scc []*Pkg, edges map[*Pkg][]edge) ([]*Pkg, error) {
	if len(scc) == 1 {
		return scc, nil
	}
	in := map[*Pkg]bool{}
	for _, p := range scc {
		in[p] = true
	}
	waiting := map[*Pkg]int{}
	for _, p := range scc {
		for _, e := range edges[p] {
			if e.pre && in[e.to] {
				waiting[p]++
			}
		}
	}
	var out []*Pkg
	done := map[*Pkg]bool{}
	for len(out) < len(scc) {
		i := slices.IndexFunc(scc, func(p *Pkg) bool { return !done[p] && waiting[p] == 0 })
		if i < 0 {
			return nil, fmt.Errorf("%w: Pre-Depends form a cycle among %s", ErrUnsatisfiable, names(scc))
		}
		p := scc[i]
		done[p] = true
		out = append(out, p)
		for _, q := range scc {
			for _, e := range edges[q] {
				if e.pre && e.to == p {
					waiting[q]--
				}
			}
		}
	}
	return out, nil
}

func names(ps []*Pkg) string {
	var n []string
	for _, p := range ps {
		n = append(n, p.Package.Package)
	}
	return strings.Join(n, ", ")
}
