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
// depends on (Tarjan's algorithm emits them so), inside a component by
// name. Pre-Depends are then met strictly: a package comes after its
// pre-dependency's whole component.
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

// preDependsOrder checks one component: sorted by name, it is installed
// as one (dpkg unpacks all, then configures in a loop), which a
// Pre-Depends inside it cannot allow: the target must be configured
// before the package is unpacked, and the target needs, through the
// cycle, the package configured. apt's ordering fails there too ("Could
// not configure").
func preDependsOrder(scc []*Pkg, edges map[*Pkg][]edge) ([]*Pkg, error) {
	if len(scc) == 1 {
		return scc, nil
	}
	for _, p := range scc {
		for _, e := range edges[p] {
			if e.pre && slices.Contains(scc, e.to) {
				return nil, fmt.Errorf("%w: %s pre-depends on %s inside the dependency cycle %s: no install order configures %s before %s is unpacked",
					ErrUnsatisfiable, p, e.to, names(scc), e.to.Package.Package, p.Package.Package)
			}
		}
	}
	return scc, nil
}

func names(ps []*Pkg) string {
	var n []string
	for _, p := range ps {
		n = append(n, p.Package.Package)
	}
	return strings.Join(n, ", ")
}
