package bootstrap

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
)

// Package is one .deb as bootstrapping and installing need it.
type Package struct {
	Path      string // where the .deb is
	Name      string
	Version   string
	Arch      string
	Essential bool
	// PreDepends and Depends are the names of every alternative, which is
	// enough to order packages that the depsolver already chose.
	PreDepends [][]string
	Depends    [][]string
	Provides   []string
}

// ReadPackages reads the control file of every .deb, in input order.
func ReadPackages(paths []string) ([]*Package, error) {
	out := make([]*Package, 0, len(paths))
	seen := map[string]string{}
	for _, p := range paths {
		c, err := readControlFile(p)
		if err != nil {
			return nil, err
		}
		k := &Package{
			Path: p, Name: c.Package(), Version: c.Fields.Value("Version"),
			Arch:       c.Fields.Value("Architecture"),
			Essential:  strings.EqualFold(c.Fields.Value("Essential"), "yes"),
			PreDepends: relationNames(c.Fields.Value("Pre-Depends")),
			Depends:    relationNames(c.Fields.Value("Depends")),
		}
		for _, g := range relationNames(c.Fields.Value("Provides")) {
			k.Provides = append(k.Provides, g...)
		}
		if other, dup := seen[k.Name]; dup {
			return nil, fmt.Errorf("package %s is given twice (%s and %s): a pinned set holds one version of each package", k.Name, other, p)
		}
		seen[k.Name] = p
		out = append(out, k)
	}
	return out, nil
}

func readControlFile(path string) (*debfile.Control, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read package %s: %w", path, err)
	}
	defer f.Close()
	c, err := debfile.ReadControl(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read package %s: %w", path, err)
	}
	return c, nil
}

// relationNames reads a Depends-style field into groups of alternative
// package names, dropping versions, architecture qualifiers and
// restrictions: the input is already a consistent pinned set.
func relationNames(field string) [][]string {
	var groups [][]string
	for _, group := range strings.Split(field, ",") {
		var alts []string
		for _, alt := range strings.Split(group, "|") {
			name := strings.TrimSpace(alt)
			name, _, _ = strings.Cut(name, "(")
			name, _, _ = strings.Cut(name, "[")
			name, _, _ = strings.Cut(name, "<")
			name, _, _ = strings.Cut(strings.TrimSpace(name), ":")
			if name = strings.TrimSpace(name); name != "" {
				alts = append(alts, name)
			}
		}
		if len(alts) > 0 {
			groups = append(groups, alts)
		}
	}
	return groups
}

// pkgSet finds packages by name or by a name they provide.
type pkgSet struct {
	byName map[string]*Package
	by     map[string][]*Package
}

func newPkgSet(pkgs []*Package) *pkgSet {
	s := &pkgSet{byName: map[string]*Package{}, by: map[string][]*Package{}}
	for _, p := range pkgs {
		s.byName[p.Name] = p
		s.by[p.Name] = append(s.by[p.Name], p)
		for _, v := range p.Provides {
			s.by[v] = append(s.by[v], p)
		}
	}
	return s
}

// choose returns the package of the set that satisfies a group of
// alternatives: the first alternative, in written order, that some
// package in the set is or provides (a real package before a provider).
func (s *pkgSet) choose(alts []string) *Package {
	for _, a := range alts {
		if p, ok := s.byName[a]; ok {
			return p
		}
		if ps := s.by[a]; len(ps) > 0 {
			return ps[0]
		}
	}
	return nil
}

// EssentialSet is mmdebstrap's essential phase: every Essential: yes
// package and what it needs (Pre-Depends and Depends) within the set, in
// input order.
func EssentialSet(pkgs []*Package) []*Package {
	s := newPkgSet(pkgs)
	in := map[*Package]bool{}
	var visit func(p *Package)
	visit = func(p *Package) {
		if p == nil || in[p] {
			return
		}
		in[p] = true
		for _, g := range append(append([][]string{}, p.PreDepends...), p.Depends...) {
			visit(s.choose(g))
		}
	}
	for _, p := range pkgs {
		if p.Essential {
			visit(p)
		}
	}
	var out []*Package
	for _, p := range pkgs {
		if in[p] {
			out = append(out, p)
		}
	}
	return out
}

// DpkgRun is one dpkg invocation of an install plan.
type DpkgRun struct {
	Action   string // "--unpack", "--configure" or "--configure --pending"
	Packages []*Package
}

// InstallPlan orders the dpkg runs that install pkgs (in install order)
// into a tree where configured says what is already configured, the way
// apt drives dpkg for a fresh install: unpack the packages in order, and
// before unpacking one whose Pre-Depends is unpacked but not configured,
// configure that (and what it needs) first; at the end configure
// everything still pending. Unpacks and early configures defer triggers
// (--no-triggers) to the final run, as apt does.
func InstallPlan(pkgs []*Package, configured func(string) bool) ([]DpkgRun, error) {
	s := newPkgSet(pkgs)
	pos := map[*Package]int{}
	for i, p := range pkgs {
		pos[p] = i
	}
	done := map[*Package]bool{}
	var runs []DpkgRun
	var unpack []*Package
	for i, p := range pkgs {
		var needs []*Package
		for _, g := range p.PreDepends {
			d := s.choose(g)
			if d == nil || done[d] || configured(d.Name) {
				continue
			}
			if pos[d] > i {
				return nil, fmt.Errorf("package %s pre-depends on %s, which comes after it in the packages input: list pre-dependencies first", p.Name, d.Name)
			}
			needs = append(needs, d)
		}
		if len(needs) > 0 {
			if len(unpack) > 0 {
				runs, unpack = append(runs, DpkgRun{"--unpack", unpack}), nil
			}
			closure := configureClosure(s, needs, done, configured, pos)
			runs = append(runs, DpkgRun{"--configure", closure})
		}
		unpack = append(unpack, p)
	}
	if len(unpack) > 0 {
		runs = append(runs, DpkgRun{"--unpack", unpack})
	}
	if len(pkgs) > 0 {
		runs = append(runs, DpkgRun{"--configure --pending", nil})
	}
	return runs, nil
}

// configureClosure is what must be configured for needs to be: needs and,
// recursively, their Pre-Depends and Depends that are unpacked but not
// configured yet, in install order. It marks them done.
func configureClosure(s *pkgSet, needs []*Package, done map[*Package]bool, configured func(string) bool, pos map[*Package]int) []*Package {
	in := map[*Package]bool{}
	var visit func(p *Package)
	visit = func(p *Package) {
		if p == nil || in[p] || done[p] || configured(p.Name) {
			return
		}
		if _, ours := pos[p]; !ours {
			return
		}
		in[p] = true
		for _, g := range append(append([][]string{}, p.PreDepends...), p.Depends...) {
			visit(s.choose(g))
		}
	}
	for _, n := range needs {
		visit(n)
	}
	var out []*Package
	for p := range in {
		out = append(out, p)
		done[p] = true
	}
	sort.Slice(out, func(a, b int) bool { return pos[out[a]] < pos[out[b]] })
	return out
}
