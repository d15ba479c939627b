// Package modorder is the format of the module load-order file that the
// initramfs carries and the guest agent reads: which kernel modules to load
// and in what order. It is the only thing the initramfs builder (host side)
// and the agent (guest side) share, so it lives in its own tiny package that
// the guest can import without pulling in the cpio writer.
//
// The file holds one module name per line (no ".ko" suffix), in load order.
// Blank lines and lines starting with '#' are ignored. Each module's object
// is Dir/<name>.ko, an uncompressed ELF module.
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

// Format renders names as an order file. It refuses invalid or duplicate
// names, since the agent would refuse the result.
func Format(names []string) ([]byte, error) {
	if err := check(names); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// Parse reads an order file.
func Parse(data []byte) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if !ValidName(s) {
			return nil, fmt.Errorf("parse module order: line %d: name %q: %w", line, s, ErrInvalid)
		}
		names = append(names, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse module order: %v: %w", err, ErrInvalid)
	}
	if err := check(names); err != nil {
		return nil, fmt.Errorf("parse module order: %w", err)
	}
	return names, nil
}

func check(names []string) error {
	if len(names) > MaxNames {
		return fmt.Errorf("%d modules, more than %d: %w", len(names), MaxNames, ErrInvalid)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !ValidName(n) {
			return fmt.Errorf("module name %q: %w", n, ErrInvalid)
		}
		if seen[n] {
			return fmt.Errorf("module %q listed twice: %w", n, ErrInvalid)
		}
		seen[n] = true
	}
	return nil
}
