// Package modorder is the format of the module load-order file that the
// initramfs carries and the guest agent reads: which kernel modules to load
// and in what order. It is the only thing the initramfs builder (host side)
// and the agent (guest side) share, so it lives in its own tiny package that
// the guest can import without pulling in the cpio writer.
//
// The file holds one module per line, in an order that works when loaded
// one by one: the module's name (no ".ko" suffix), then, separated by
// spaces, the names of the modules it needs loaded first (its modinfo
// "depends", limited to modules in the file). A module's dependencies are
// listed on earlier lines, so the file is a DAG the agent may load in
// parallel. Blank lines and lines starting with '#' are ignored. Each
// module's object is Dir/<name>.ko, an uncompressed ELF module.
//
//	virtio
//	fuse
//	virtiofs fuse virtio
package modorder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

const (
	// Dir is where the initramfs puts modules.
	Dir = "/lib/modules"
	// Path is the load-order file.
	Path = Dir + "/order"
	// MaxNames bounds how many modules an order file may list, so that a
	// corrupt file cannot make the agent loop for long.
	MaxNames = 1024
	// maxNameLen is the kernel's MODULE_NAME_LEN minus its NUL.
	maxNameLen = 55
)

// ErrInvalid is returned for an order file or module name that does not
// follow the format.
var ErrInvalid = errors.New("invalid module order")

// File returns the path of module name's object.
func File(name string) string { return Dir + "/" + name + ".ko" }

// ValidName reports whether name can be a module name: 1-55 characters of
// [A-Za-z0-9_-]. It keeps names usable as file names with no path tricks.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for _, c := range []byte(name) {
		ok := c == '_' || c == '-' || ('0' <= c && c <= '9') ||
			('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// Entry is one module of an order file.
type Entry struct {
	Name string
	// Deps are modules listed earlier that must be loaded before this one.
	Deps []string
}

// Format renders entries as an order file. It refuses what Parse would
// refuse: invalid or duplicate names, and dependencies not listed earlier.
func Format(entries []Entry) ([]byte, error) {
	if err := check(entries); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(strings.Join(append([]string{e.Name}, e.Deps...), " "))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// Parse reads an order file.
func Parse(data []byte) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(entries) == MaxNames {
			return nil, fmt.Errorf("parse module order: more than %d modules: %w", MaxNames, ErrInvalid)
		}
		entries = append(entries, Entry{Name: fields[0], Deps: fields[1:]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse module order: %v: %w", err, ErrInvalid)
	}
	if err := check(entries); err != nil {
		return nil, fmt.Errorf("parse module order: %w", err)
	}
	return entries, nil
}

// Names returns the entries' names, in order.
func Names(entries []Entry) []string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names
}

func check(entries []Entry) error {
	if len(entries) > MaxNames {
		return fmt.Errorf("%d modules, more than %d: %w", len(entries), MaxNames, ErrInvalid)
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !ValidName(e.Name) {
			return fmt.Errorf("module name %q: %w", e.Name, ErrInvalid)
		}
		if seen[e.Name] {
			return fmt.Errorf("module %q listed twice: %w", e.Name, ErrInvalid)
		}
		for _, d := range e.Deps {
			if !seen[d] {
				return fmt.Errorf("module %q needs %q, which is not listed before it: %w", e.Name, d, ErrInvalid)
			}
		}
		seen[e.Name] = true
	}
	return nil
}
