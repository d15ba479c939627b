package systemd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrUnitNotFound marks a unit that is in none of the unit directories.
var ErrUnitNotFound = errors.New("unit not found")

// ErrInvalidUnit marks a unit name that cannot be a file name.
var ErrInvalidUnit = errors.New("invalid unit name")

// configDir is where enablement symlinks go, as for systemctl --root.
const configDir = "/etc/systemd/system"

// unitDirs is the system unit search path inside the tree, highest
// priority first.
var unitDirs = []string{
	"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system", "/lib/systemd/system",
}

// manager enables, disables and masks units in one tree.
type manager struct {
	tree api.Root
}

func checkUnitName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." || len(name) > 255 {
		return fmt.Errorf("%q: %w", name, ErrInvalidUnit)
	}
	return nil
}

// find returns the in-tree path of a unit's file (a template's file for
// an instance), skipping masks and enablement links in /etc.
func (m manager) find(name string) (string, error) {
	if err := checkUnitName(name); err != nil {
		return "", err
	}
	candidates := []string{name}
	if t := parseUnitName(name).templateName(); t != name {
		candidates = append(candidates, t)
	}
	for _, c := range candidates {
		for _, dir := range unitDirs {
			p := path.Join(dir, c)
			host, err := m.tree.Resolve(p)
			if err != nil {
				return "", err
			}
			if fi, err := os.Stat(host); err == nil && fi.Mode().IsRegular() && !m.isLink(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s: %w", name, ErrUnitNotFound)
}

// isLink reports whether the in-tree path is a symlink in /etc (an
// enablement or alias, not a unit file).
func (m manager) isLink(p string) bool {
	if !strings.HasPrefix(p, "/etc/") {
		return false
	}
	host, err := m.tree.ResolveParent(p)
	if err != nil {
		return false
	}
	fi, err := os.Lstat(host)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// enable creates the symlinks the unit's [Install] section asks for, and
// enables its Also= units.
func (m manager) enable(name string, seen map[string]bool) error {
	if seen[name] {
		return nil
	}
	seen[name] = true
	file, err := m.find(name)
	if err != nil {
		return err
	}
	text, err := m.tree.ReadFile(file)
	if err != nil {
		return err
	}
	inst := parseInstall(string(text))
	if inst.empty() {
		fmt.Printf("The unit %s has no installation config; nothing to enable.\n", name)
		return nil
	}
	name, ok := instanceToEnable(name, inst)
	if err := m.linkInstall(name, file, inst, ok); err != nil {
		return err
	}
	for _, also := range inst.Also {
		if err := m.enable(expand(also, name), seen); err != nil {
			return err
		}
	}
	return nil
}

// instanceToEnable picks the instance a template is enabled as: the one
// named, or DefaultInstance; ok is false for a bare template with none.
func instanceToEnable(name string, inst installSection) (string, bool) {
	u := parseUnitName(name)
	if !u.template || u.instance != "" {
		return name, true
	}
	if inst.DefaultInstance == "" {
		return name, false
	}
	return u.withInstance(inst.DefaultInstance), true
}

func (m manager) linkInstall(name, file string, inst installSection, linkDeps bool) error {
	if linkDeps {
		for _, t := range inst.WantedBy {
			if err := m.link(path.Join(configDir, expand(t, name)+".wants", name), file); err != nil {
				return err
			}
		}
		for _, t := range inst.RequiredBy {
			if err := m.link(path.Join(configDir, expand(t, name)+".requires", name), file); err != nil {
				return err
			}
		}
	}
	for _, a := range inst.Alias {
		alias := expand(a, name)
		if err := checkUnitName(alias); err != nil {
			return err
		}
		if err := m.link(path.Join(configDir, alias), file); err != nil {
			return err
		}
	}
	return nil
}

// link makes p a symlink to target unless it already is one.
func (m manager) link(p, target string) error {
	host, err := m.tree.ResolveParent(p)
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(host); err == nil && cur == target {
		return nil
	}
	if fi, err := os.Lstat(host); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("link %s: a file is in the way", p)
	}
	fmt.Printf("Created symlink %s -> %s.\n", p, target)
	return m.tree.Symlink(target, p)
}
