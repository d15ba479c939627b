package systemd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// disable removes every enablement symlink of the unit under /etc (links
// named after it or its aliases, or pointing at a file of that name), and
// disables its Also= units. Masks (links to /dev/null) stay.
func (m manager) disable(name string, seen map[string]bool) error {
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
	names := map[string]bool{name: true}
	for _, a := range inst.Alias {
		names[expand(a, name)] = true
	}
	if err := m.removeLinks(names); err != nil {
		return err
	}
	for _, also := range inst.Also {
		if err := m.disable(expand(also, name), seen); err != nil {
			return err
		}
	}
	return nil
}

func (m manager) removeLinks(names map[string]bool) error {
	root, err := m.tree.Resolve(configDir)
	if err != nil {
		return err
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil || target == "/dev/null" {
			return err
		}
		if names[d.Name()] || names[path.Base(target)] {
			fmt.Printf("Removed %s.\n", p)
			return os.Remove(p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// mask links the unit's name in /etc to /dev/null, refusing to replace a
// unit file placed there.
func (m manager) mask(name string) error {
	if err := checkUnitName(name); err != nil {
		return err
	}
	p := path.Join(configDir, name)
	host, err := m.tree.ResolveParent(p)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(host); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("mask %s: %s is a unit file, not a link", name, p)
	}
	fmt.Printf("Created symlink %s -> /dev/null.\n", p)
	return m.tree.Symlink("/dev/null", p)
}

// unmask removes a /dev/null link for the unit from /etc.
func (m manager) unmask(name string) error {
	if err := checkUnitName(name); err != nil {
		return err
	}
	host, err := m.tree.ResolveParent(path.Join(configDir, name))
	if err != nil {
		return err
	}
	if t, err := os.Readlink(host); err == nil && t == "/dev/null" {
		return os.Remove(host)
	}
	return nil
}

// setDefault points default.target at the target's unit file.
func (m manager) setDefault(target string) error {
	file, err := m.find(target)
	if err != nil {
		return err
	}
	p := path.Join(configDir, "default.target")
	fmt.Printf("Created symlink %s -> %s.\n", p, file)
	return m.tree.Symlink(file, p)
}

// maskGenerator links a generator's name in /etc to /dev/null.
func (m manager) maskGenerator(name string) error {
	if err := checkUnitName(name); err != nil {
		return err
	}
	return m.tree.Symlink("/dev/null", path.Join("/etc/systemd/system-generators", name))
}
