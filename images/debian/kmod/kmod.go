// Package kmod reads what the build VM needs to know about Linux kernel
// modules: a module's name and dependencies from its .modinfo ELF section,
// which modules a kernel has built in, and a load order in which every
// module follows its dependencies. It replaces depmod/modules.dep, which
// Debian's kernel packages do not ship.
package kmod

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ErrNotModule means a file is not a kernel module (no ELF, no .modinfo).
var ErrNotModule = errors.New("not a kernel module")

// Info is what a module says about itself.
type Info struct {
	// Name is the module name with '-' written as '_', as the kernel does.
	Name string
	// Depends lists modules that must be loaded first.
	Depends []string
}

// ReadInfo reads the .modinfo section of an uncompressed module.
func ReadInfo(r io.ReaderAt) (Info, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return Info{}, fmt.Errorf("read module ELF: %w: %w", ErrNotModule, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return Info{}, fmt.Errorf("read module: no .modinfo section: %w", ErrNotModule)
	}
	data, err := sec.Data()
	if err != nil {
		return Info{}, fmt.Errorf("read module .modinfo: %w: %w", ErrNotModule, err)
	}
	return parseModinfo(data), nil
}

// parseModinfo reads NUL-separated key=value strings; later keys of the
// same name are ignored.
func parseModinfo(data []byte) Info {
	var info Info
	seen := map[string]bool{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		switch k {
		case "name":
			info.Name = Normalize(v)
		case "depends":
			info.Depends = splitDepends(v)
		}
	}
	return info
}

func splitDepends(v string) []string {
	var deps []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			deps = append(deps, Normalize(d))
		}
	}
	return deps
}

// Normalize writes a module name the kernel's way ('-' and '_' are the
// same; '_' is canonical).
func Normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

// suffixes are the module file forms Debian kernels ship.
var suffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// NameFromPath returns the module name of a .ko, .ko.xz, .ko.zst or
// .ko.gz path, and false for any other file.
func NameFromPath(p string) (string, bool) {
	base := path.Base(p)
	for _, s := range suffixes {
		if n, ok := strings.CutSuffix(base, s); ok && n != "" {
			return Normalize(n), true
		}
	}
	return "", false
}

// Decompress returns the plain module from a file named p, undoing xz,
// zstd or gzip compression by its suffix.
func Decompress(p string, r io.Reader) (io.ReadCloser, error) {
	switch path.Ext(p) {
	case ".ko":
		return io.NopCloser(r), nil
	case ".xz":
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("decompress module %s: %w", p, err)
		}
		return io.NopCloser(x), nil
	case ".zst":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("decompress module %s: %w", p, err)
		}
		return d.IOReadCloser(), nil
	case ".gz":
		g, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("decompress module %s: %w", p, err)
		}
		return g, nil
	}
	return nil, fmt.Errorf("decompress module %s: %w", p, ErrNotModule)
}
