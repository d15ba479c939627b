// Package accountdb reads and edits the colon-separated account databases
// of a tree (/etc/passwd, shadow, group, gshadow) directly, so user and
// group stages work without useradd or a chroot. Lines keep their order;
// new entries are appended, as the shadow tools do.
package accountdb

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrMalformed marks a database line with the wrong number of fields.
var ErrMalformed = errors.New("malformed account database")

// maxFileSize bounds what we read of a database.
const maxFileSize = 16 << 20

// File is one database: entries of fields, in file order.
type File struct {
	Path    string
	Fields  int
	Entries [][]string
	Perm    fs.FileMode
	existed bool
}

// Load reads path (e.g. /etc/passwd) from the tree; a missing file is an
// empty database. fields is the entry width (passwd 7, shadow 9, group 4,
// gshadow 4).
func Load(tree api.Root, path string, fields int, perm fs.FileMode) (*File, error) {
	f := &File{Path: path, Fields: fields, Perm: perm}
	data, err := tree.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("read %s: %w: larger than %d bytes", path, ErrMalformed, maxFileSize)
	}
	f.existed = true
	return f, f.parse(string(data))
}

// Parse reads a database from its text (for tests and fuzzing).
func Parse(path, text string, fields int) (*File, error) {
	f := &File{Path: path, Fields: fields, Perm: 0o644}
	return f, f.parse(text)
}

func (f *File) parse(text string) error {
	for i, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != f.Fields {
			return fmt.Errorf("%s line %d: %w: %d fields, want %d", f.Path, i+1, ErrMalformed, len(parts), f.Fields)
		}
		f.Entries = append(f.Entries, parts)
	}
	return nil
}

// Existed reports whether the file was in the tree.
func (f *File) Existed() bool { return f.existed }

// Lookup returns the entry whose first field is name, or nil.
func (f *File) Lookup(name string) []string {
	for _, e := range f.Entries {
		if e[0] == name {
			return e
		}
	}
	return nil
}

// LookupID returns the first entry whose third field (uid or gid) is id.
func (f *File) LookupID(id int) []string {
	s := strconv.Itoa(id)
	for _, e := range f.Entries {
		if len(e) > 2 && e[2] == s {
			return e
		}
	}
	return nil
}

// Append adds an entry; it must have the file's width.
func (f *File) Append(entry []string) error {
	if len(entry) != f.Fields {
		return fmt.Errorf("%s: %w: entry of %d fields", f.Path, ErrMalformed, len(entry))
	}
	f.Entries = append(f.Entries, entry)
	return nil
}

// String renders the database.
func (f *File) String() string {
	var b strings.Builder
	for _, e := range f.Entries {
		b.WriteString(strings.Join(e, ":"))
		b.WriteByte('\n')
	}
	return b.String()
}

// Save writes the database back into the tree.
func (f *File) Save(tree api.Root) error {
	return tree.WriteFile(f.Path, []byte(f.String()), f.Perm)
}

// NextFreeID picks an id in [min, max] the way useradd and groupadd do:
// one above the highest id in use in that range, or min when none is;
// if that overflows, the lowest unused id.
func (f *File) NextFreeID(min, max int) (int, error) {
	used := map[int]bool{}
	highest := min - 1
	for _, e := range f.Entries {
		n, err := strconv.Atoi(e[2])
		if err != nil || n < min || n > max {
			continue
		}
		used[n] = true
		highest = maxInt(highest, n)
	}
	if highest < max {
		return highest + 1, nil
	}
	for id := min; id <= max; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%s: no free id in %d-%d", f.Path, min, max)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// ValidField reports whether s can be stored in a field: no separators.
func ValidField(s string) bool {
	return !strings.ContainsAny(s, ":\n")
}
