package debian

import (
	"context"

	"archive/tar"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/internal/ctxio"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/formats/deb"
	"github.com/osbuild-vm/osbuild-vm/images/debian/kmod"
)

// Bounds on what a kernel package may make us write.
const (
	maxKernelImage = 256 << 20
	maxModule      = 64 << 20
	maxSmallFile   = 4 << 20
)

// extraction collects what extractKernel finds while walking the .deb.
type extraction struct {
	dir, staging string
	vmlinuz      string
	version      string
	deps         map[string][]string
	builtin      map[string]bool
	config       []byte
}

// extractKernel pulls boot/vmlinuz-* and the needed modules out of the
// kernel .deb at debPath into dir.
func extractKernel(ctx context.Context, debPath, dir, arch string) (*Kernel, error) {
	f, err := os.Open(debPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := &extraction{dir: dir, staging: filepath.Join(dir, "staging"), deps: map[string][]string{}}
	if err := os.Mkdir(e.staging, 0o755); err != nil {
		return nil, err
	}
	if err := deb.Walk(ctxio.Reader(ctx, f), e.entry); err != nil {
		return nil, err
	}
	if e.vmlinuz == "" {
		return nil, fmt.Errorf("find boot/vmlinuz-*: %w", ErrNoKernel)
	}
	return e.finish(arch)
}

// entry handles one file of the package's data.tar.
func (e *extraction) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	name := hdr.Name
	switch {
	case strings.HasPrefix(name, "boot/vmlinuz-"):
		e.version = strings.TrimPrefix(name, "boot/vmlinuz-")
		e.vmlinuz = filepath.Join(e.dir, "vmlinuz")
		return copyBounded(e.vmlinuz, r, maxKernelImage)
	case strings.HasPrefix(name, "boot/config-"):
		data, err := io.ReadAll(io.LimitReader(r, maxSmallFile))
		e.config = data
		return err
	case !inModuleTree(name):
		return nil
	case path.Base(name) == "modules.builtin":
		set, err := kmod.ParseBuiltin(io.LimitReader(r, maxSmallFile))
		e.builtin = set
		return err
	}
	if mod, ok := kmod.NameFromPath(name); ok {
		return e.stageModule(mod, name, r)
	}
	return nil
}

func inModuleTree(name string) bool {
	return strings.HasPrefix(name, "lib/modules/") || strings.HasPrefix(name, "usr/lib/modules/")
}

// stageModule writes the uncompressed module to staging/<mod>.ko and
// records its dependencies. The first file of a name wins.
func (e *extraction) stageModule(mod, name string, r io.Reader) error {
	if _, dup := e.deps[mod]; dup {
		return nil
	}
	plain, err := kmod.Decompress(name, r)
	if err != nil {
		return err
	}
	defer plain.Close()
	dest := filepath.Join(e.staging, mod+".ko")
	if err := copyBounded(dest, plain, maxModule); err != nil {
		return fmt.Errorf("extract module %s: %w", name, err)
	}
	info, err := readModuleInfo(dest)
	if err != nil {
		return fmt.Errorf("extract module %s: %w", name, err)
	}
	e.deps[mod] = info.Depends
	return nil
}

func readModuleInfo(p string) (kmod.Info, error) {
	f, err := os.Open(p)
	if err != nil {
		return kmod.Info{}, err
	}
	defer f.Close()
	return kmod.ReadInfo(f)
}

// finish picks the needed modules, moves them to modules/ in load order,
// and prepares the boot image.
func (e *extraction) finish(arch string) (*Kernel, error) {
	builtin := e.builtin
	if builtin == nil && e.config != nil {
		var err error
		if builtin, err = kmod.BuiltinFromConfig(strings.NewReader(string(e.config))); err != nil {
			return nil, err
		}
	}
	order, inKernel, err := resolveModules(e.deps, builtin)
	if err != nil {
		return nil, err
	}
	k := &Kernel{Dir: e.dir, Version: e.version, Arch: arch, Builtin: inKernel}
	if err := os.Mkdir(filepath.Join(e.dir, "modules"), 0o755); err != nil {
		return nil, err
	}
	for _, m := range order {
		dest := filepath.Join(e.dir, "modules", m+".ko")
		if err := os.Rename(filepath.Join(e.staging, m+".ko"), dest); err != nil {
			return nil, err
		}
		k.Modules = append(k.Modules, Module{Name: m, Path: dest})
	}
	if err := os.RemoveAll(e.staging); err != nil {
		return nil, err
	}
	if k.Image, err = bootImage(e.dir, e.vmlinuz, arch); err != nil {
		return nil, err
	}
	return k, nil
}

// resolveModules orders NeededModules and their dependencies. A needed
// module without a file must be built in; when builtin is nil (nothing
// says what is built in) it is assumed to be.
func resolveModules(deps map[string][]string, builtin map[string]bool) (order, inKernel []string, err error) {
	var roots []string
	for _, n := range NeededModules {
		_, isFile := deps[n]
		switch {
		case isFile:
			roots = append(roots, n)
		case builtin == nil || builtin[n]:
			inKernel = append(inKernel, n)
		default:
			return nil, nil, fmt.Errorf("find module %s: %w", n, ErrModuleMissing)
		}
	}
	order, err = kmod.Order(roots, deps, builtin)
	return order, inKernel, err
}

// copyBounded writes at most limit bytes of r to a new file at dest and
// fails if r holds more.
func copyBounded(dest string, r io.Reader, limit int64) error {
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("%s: more than %d bytes", dest, limit)
	}
	return err
}
