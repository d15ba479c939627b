// Package systemd implements org.osbuild.systemd (enable, disable and mask
// units, mask generators, set the default target) and
// org.osbuild.systemd.unit.create, in Go: enabling follows units' [Install]
// sections (WantedBy, RequiredBy, Alias, Also, DefaultInstance) the way
// `systemctl --root` does, because the tree may have no systemctl.
package systemd

import (
	"bufio"
	"strings"
)

// maxUnitSize bounds a unit file we parse.
const maxUnitSize = 1 << 20

// installSection is the [Install] part of a unit file.
type installSection struct {
	WantedBy        []string
	RequiredBy      []string
	Alias           []string
	Also            []string
	DefaultInstance string
}

// empty reports whether the unit has nothing to enable (systemctl then
// says the unit is not meant to be enabled, and succeeds).
func (s installSection) empty() bool {
	return len(s.WantedBy)+len(s.RequiredBy)+len(s.Alias)+len(s.Also) == 0
}

// parseInstall reads the [Install] section of a unit file: list settings
// accumulate space-separated words, an empty assignment resets them, and
// a trailing backslash continues a line.
func parseInstall(text string) installSection {
	var s installSection
	inInstall := false
	for _, line := range logicalLines(text) {
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			inInstall = strings.TrimSpace(line) == "[Install]"
		case inInstall:
			s.set(line)
		}
	}
	return s
}

func (s *installSection) set(line string) {
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	lists := map[string]*[]string{"WantedBy": &s.WantedBy, "RequiredBy": &s.RequiredBy, "Alias": &s.Alias, "Also": &s.Also}
	if l, ok := lists[key]; ok {
		if value == "" {
			*l = nil
		} else {
			*l = append(*l, strings.Fields(value)...)
		}
	}
	if key == "DefaultInstance" {
		s.DefaultInstance = value
	}
}

func logicalLines(text string) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), maxUnitSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// unitName splits "foo@bar.service" into prefix "foo", instance "bar"
// and suffix ".service"; a template has an empty instance.
type unitName struct {
	prefix, instance, suffix string
	template                 bool
}

func parseUnitName(n string) unitName {
	dot := strings.LastIndexByte(n, '.')
	if dot < 0 {
		return unitName{prefix: n}
	}
	base, suffix := n[:dot], n[dot:]
	p, inst, isTemplate := strings.Cut(base, "@")
	return unitName{prefix: p, instance: inst, suffix: suffix, template: isTemplate}
}

func (u unitName) templateName() string {
	if !u.template {
		return u.prefix + u.suffix
	}
	return u.prefix + "@" + u.suffix
}

func (u unitName) withInstance(inst string) string {
	return u.prefix + "@" + inst + u.suffix
}

// expand replaces the unit specifiers systemctl resolves in [Install]
// values: %n full name, %N without suffix, %p prefix, %i instance, %%.
func expand(value, name string) string {
	u := parseUnitName(name)
	r := strings.NewReplacer("%%", "%", "%n", name, "%N", strings.TrimSuffix(name, u.suffix),
		"%p", u.prefix, "%i", u.instance, "%j", lastDash(u.prefix))
	return r.Replace(value)
}

func lastDash(s string) string {
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		return s[i+1:]
	}
	return s
}
