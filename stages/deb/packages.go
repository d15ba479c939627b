package deb

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
)

// pkg is one input .deb as the install stage needs it.
type pkg struct {
	Path      string // in the stage's view
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

// readPackages reads the control file of every .deb, in input order.
func readPackages(paths []string) ([]*pkg, error) {
	out := make([]*pkg, 0, len(paths))
	seen := map[string]string{}
	for _, p := range paths {
		c, err := readControlFile(p)
		if err != nil {
			return nil, err
		}
		k := &pkg{
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
	byName map[string]*pkg
	by     map[string][]*pkg
}

func newPkgSet(pkgs []*pkg) *pkgSet {
	s := &pkgSet{byName: map[string]*pkg{}, by: map[string][]*pkg{}}
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
func (s *pkgSet) choose(alts []string) *pkg {
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

// essentialSet is mmdebstrap's essential phase: every Essential: yes
// package and what it needs (Pre-Depends and Depends) within the set, in
// input order.
func essentialSet(pkgs []*pkg) []*pkg {
	s := newPkgSet(pkgs)
	in := map[*pkg]bool{}
	var visit func(p *pkg)
	visit = func(p *pkg) {
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
	var out []*pkg
	for _, p := range pkgs {
		if in[p] {
			out = append(out, p)
		}
	}
	return out
}

// batches splits packages (in install order) into runs of dpkg --install:
// dpkg unpacks all packages of one call before it configures any, so a
// package whose Pre-Depends is in the current batch starts a new one
// (Pre-Depends must be configured before the package is unpacked).
func batches(pkgs []*pkg, installed func(string) bool) [][]*pkg {
	s := newPkgSet(pkgs)
	var out [][]*pkg
	var cur []*pkg
	inCur := map[*pkg]bool{}
	for _, p := range pkgs {
		for _, g := range p.PreDepends {
			if d := s.choose(g); d != nil && inCur[d] && !installed(d.Name) {
				out, cur, inCur = append(out, cur), nil, map[*pkg]bool{}
				break
			}
		}
		cur = append(cur, p)
		inCur[p] = true
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
