package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrCycle means modules depend on each other in a loop.
var ErrCycle = errors.New("module dependency cycle")

// ErrMissing means a needed module is neither available nor built in.
var ErrMissing = errors.New("module not available")

// Order returns roots and everything they depend on, each module after
// its dependencies. Roots keep their given order where the dependencies
// allow; a module's dependencies are visited in sorted order so the result
// does not depend on how depends= happens to be written. Names in builtin
// are dropped (and so are their dependencies, which are built in too).
func Order(roots []string, deps map[string][]string, builtin map[string]bool) ([]string, error) {
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		if builtin[name] || state[name] == 2 {
			return nil
		}
		if state[name] == 1 {
			return fmt.Errorf("order modules %s: %w", strings.Join(append(chain, name), " -> "), ErrCycle)
		}
		d, ok := deps[name]
		if !ok {
			return fmt.Errorf("order modules: %s (needed by %s): %w", name, strings.Join(chain, " -> "), ErrMissing)
		}
		state[name] = 1
		for _, dep := range sortedCopy(d) {
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		out = append(out, name)
		return nil
	}
	for _, r := range roots {
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// ParseBuiltin reads modules.builtin ("kernel/fs/fuse/fuse.ko" per line)
// into a set of module names.
func ParseBuiltin(r io.Reader) (map[string]bool, error) {
	set := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if name, ok := NameFromPath(strings.TrimSpace(sc.Text())); ok {
			set[name] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.builtin: %w", err)
	}
	return set, nil
}

// configSymbols maps the modules the build VM needs to the Kconfig symbol
// that builds them, for kernels that ship a config but no modules.builtin.
var configSymbols = map[string]string{
	"virtio": "CONFIG_VIRTIO", "virtio_ring": "CONFIG_VIRTIO",
	"virtio_pci": "CONFIG_VIRTIO_PCI", "virtio_pci_legacy_dev": "CONFIG_VIRTIO_PCI_LIB_LEGACY",
	"virtio_pci_modern_dev": "CONFIG_VIRTIO_PCI_LIB", "virtio_mmio": "CONFIG_VIRTIO_MMIO",
	"virtio_console": "CONFIG_VIRTIO_CONSOLE", "virtio_blk": "CONFIG_VIRTIO_BLK",
	"fuse": "CONFIG_FUSE_FS", "virtiofs": "CONFIG_VIRTIO_FS", "vsock": "CONFIG_VSOCKETS",
	"vmw_vsock_virtio_transport":        "CONFIG_VIRTIO_VSOCKETS",
	"vmw_vsock_virtio_transport_common": "CONFIG_VIRTIO_VSOCKETS_COMMON",
	"loop":                              "CONFIG_BLK_DEV_LOOP", "overlay": "CONFIG_OVERLAY_FS", "squashfs": "CONFIG_SQUASHFS",
	"fat": "CONFIG_FAT_FS", "vfat": "CONFIG_VFAT_FS", "nls_cp437": "CONFIG_NLS_CODEPAGE_437",
	"nls_ascii": "CONFIG_NLS_ASCII", "nls_utf8": "CONFIG_NLS_UTF8",
}

// BuiltinFromConfig reads a kernel .config and returns which of the
// modules it knows (see configSymbols) are built in (=y).
func BuiltinFromConfig(r io.Reader) (map[string]bool, error) {
	yes := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sym, ok := strings.CutSuffix(strings.TrimSpace(sc.Text()), "=y"); ok {
			yes[sym] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kernel config: %w", err)
	}
	set := map[string]bool{}
	for mod, sym := range configSymbols {
		if yes[sym] {
			set[mod] = true
		}
	}
	return set, nil
}
