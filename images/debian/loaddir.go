package debian

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/images/debian/kmod"
)

// LoadKernelDir reads a user-supplied kernel (--vm-kernel DIR). Layout:
//
//	DIR/vmlinuz* | Image | bzImage   the kernel image (also looked for in DIR/boot/);
//	                                 exactly one must exist
//	DIR/**/*.ko[.xz|.zst|.gz]         modules anywhere below DIR, e.g. lib/modules/<ver>/...;
//	                                 none at all when everything needed is built in
//	DIR/**/modules.builtin            optional: what is built in; else DIR/boot/config-*;
//	                                 with neither, a needed module without a file is
//	                                 assumed built in
//
// Symbolic links are not followed. Modules keep their file form; use
// Module.Open to read them uncompressed.
func LoadKernelDir(dir, arch string) (*Kernel, error) {
	if err := CheckArch(arch); err != nil {
		return nil, err
	}
	image, err := findImage(dir)
	if err != nil {
		return nil, err
	}
	s, err := scanModules(dir)
	if err != nil {
		return nil, err
	}
	order, inKernel, err := resolveModules(s.deps, s.builtin)
	if err != nil {
		return nil, fmt.Errorf("load kernel dir %s: %w", dir, err)
	}
	k := &Kernel{Dir: dir, Image: image, Version: s.version, Arch: arch, Builtin: inKernel}
	if k.Version == "" {
		k.Version = strings.TrimPrefix(filepath.Base(image), "vmlinuz-")
	}
	for _, m := range order {
		k.Modules = append(k.Modules, Module{Name: m, Path: s.paths[m]})
	}
	return k, nil
}

// findImage looks for exactly one kernel image in dir or dir/boot.
func findImage(dir string) (string, error) {
	var found []string
	for _, d := range []string{dir, filepath.Join(dir, "boot")} {
		entries, err := os.ReadDir(d)
		if err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("load kernel dir %s: %w", dir, err)
		}
		for _, e := range entries {
			n := e.Name()
			if e.Type().IsRegular() && (strings.HasPrefix(n, "vmlinuz") || n == "Image" || n == "bzImage") {
				found = append(found, filepath.Join(d, n))
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("load kernel dir %s: no vmlinuz*, Image or bzImage in it or its boot/: %w", dir, ErrNoKernel)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("load kernel dir %s: %w (%s); keep one", dir, ErrSeveralKernels, strings.Join(found, ", "))
}

// moduleScan is what scanModules finds below a kernel directory.
type moduleScan struct {
	deps    map[string][]string
	paths   map[string]string
	builtin map[string]bool
	version string
}

// scanModules reads every module's modinfo and what is built in.
func scanModules(dir string) (*moduleScan, error) {
	s := &moduleScan{deps: map[string][]string{}, paths: map[string]string{}}
	var builtinFile string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if d.Name() == "modules.builtin" && builtinFile == "" {
			builtinFile = p
			s.version = filepath.Base(filepath.Dir(p))
		}
		if name, ok := kmod.NameFromPath(p); ok && s.paths[name] == "" {
			return s.addModule(name, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load kernel dir %s: %w", dir, err)
	}
	if s.builtin, err = readBuiltin(dir, builtinFile); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *moduleScan) addModule(name, p string) error {
	m := Module{Name: name, Path: p}
	rc, err := m.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxModule+1))
	if err != nil {
		return fmt.Errorf("read module %s: %w", p, err)
	}
	if len(data) > maxModule {
		return fmt.Errorf("read module %s: more than %d bytes", p, maxModule)
	}
	info, err := kmod.ReadInfo(strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("read module %s: %w", p, err)
	}
	s.deps[name], s.paths[name] = info.Depends, p
	return nil
}

// readBuiltin reads modules.builtin, else boot/config-*, else returns nil
// (unknown).
func readBuiltin(dir, builtinFile string) (map[string]bool, error) {
	if builtinFile != "" {
		return parseFile(builtinFile, kmod.ParseBuiltin)
	}
	configs, _ := filepath.Glob(filepath.Join(dir, "boot", "config-*"))
	sort.Strings(configs)
	if len(configs) == 0 {
		return nil, nil
	}
	return parseFile(configs[0], kmod.BuiltinFromConfig)
}

func parseFile(p string, parse func(io.Reader) (map[string]bool, error)) (map[string]bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	return parse(io.LimitReader(f, maxSmallFile))
}
