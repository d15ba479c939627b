package initramfs

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// depends returns the modules obj (an ELF kernel module) names in its
// .modinfo "depends" field: those the kernel needs loaded first. A module
// without a .modinfo section depends on nothing.
func depends(obj []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, fmt.Errorf("read ELF: %v: %w", err, ErrInvalidSpec)
	}
	sec := f.Section(".modinfo")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if sec.Size > uint64(len(obj)) {
		return nil, fmt.Errorf("read .modinfo: %d bytes in a %d byte file: %w", sec.Size, len(obj), ErrInvalidSpec)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo: %v: %w", err, ErrInvalidSpec)
	}
	for _, field := range bytes.Split(data, []byte{0}) {
		if v, ok := strings.CutPrefix(string(field), "depends="); ok {
			return splitDeps(v), nil
		}
	}
	return nil, nil
}

func splitDeps(v string) []string {
	var deps []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			deps = append(deps, d)
		}
	}
	return deps
}
