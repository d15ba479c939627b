package modules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/osbuild-vm/osbuild-vm/stages/meta"
)

// MaxMetaSize bounds a meta.json file; the largest upstream one is ~60 kB.
const MaxMetaSize = 4 << 20

// Meta is a module's metadata, osbuild's <name>.meta.json.
type Meta struct {
	Kind Kind
	Name string
	// Path is the meta.json file read, "" for a built-in module.
	Path    string
	Builtin bool

	Summary      string          `json:"summary"`
	Description  []string        `json:"description"`
	Capabilities []string        `json:"capabilities"`
	Schema       json.RawMessage `json:"schema"`   // options schema for v1 manifests
	Schema2      json.RawMessage `json:"schema_2"` // v2: parts "options", "inputs", "devices", "mounts"
}

// Index finds modules in libdirs and among the built-in ones. It caches
// what it reads and is safe for concurrent use.
type Index struct {
	libdirs       []string
	builtinStages fs.FS

	mu    sync.Mutex
	cache map[string]*Meta
}

// NewIndex returns an index over the libdirs, searched in order, and the
// built-in modules.
func NewIndex(libdirs ...string) *Index {
	return &Index{libdirs: libdirs, builtinStages: meta.FS, cache: map[string]*Meta{}}
}

// Libdirs returns the libdirs searched, in order.
func (ix *Index) Libdirs() []string { return ix.libdirs }

// Meta returns the metadata of a module, ErrUnknownModule when no libdir
// and no built-in has it.
func (ix *Index) Meta(kind Kind, name string) (*Meta, error) {
	if err := checkName(kind, name); err != nil {
		return nil, err
	}
	key := string(kind) + "/" + name
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if m, ok := ix.cache[key]; ok {
		return m, nil
	}
	m, err := ix.find(kind, name)
	if err != nil {
		return nil, err
	}
	ix.cache[key] = m
	return m, nil
}

func (ix *Index) find(kind Kind, name string) (*Meta, error) {
	for _, dir := range ix.libdirs {
		p := filepath.Join(dir, string(kind), name+".meta.json")
		data, err := readBounded(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read module metadata %s: %w", p, err)
		}
		return parseMeta(kind, name, p, data)
	}
	if data, ok := ix.builtinFile(kind, name); ok {
		m, err := parseMeta(kind, name, "", data)
		if m != nil {
			m.Builtin = true
		}
		return m, err
	}
	return nil, fmt.Errorf("module %s/%s: %w", kind, name, ErrUnknownModule)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMetaSize+1))
	if err == nil && len(data) > MaxMetaSize {
		err = fmt.Errorf("larger than %d bytes", MaxMetaSize)
	}
	return data, err
}

// parseMeta decodes and checks a meta.json as osbuild's META_JSON_SCHEMA
// does: no unknown keys, "summary" and "description" required, at least
// one of "schema" and "schema_2", each an object.
func parseMeta(kind Kind, name, path string, data []byte) (*Meta, error) {
	where := path
	if where == "" {
		where = "built-in " + string(kind) + "/" + name
	}
	m := &Meta{Kind: kind, Name: name, Path: path}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(m); err != nil {
		return nil, fmt.Errorf("module metadata %s: %w: %w", where, ErrInvalidMeta, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("module metadata %s: %w: %s", where, ErrInvalidMeta, err)
	}
	return m, nil
}

func (m *Meta) check() error {
	if m.Summary == "" || m.Description == nil {
		return errors.New(`"summary" and "description" are required`)
	}
	if m.Schema == nil && m.Schema2 == nil {
		return errors.New(`one of "schema" and "schema_2" is required`)
	}
	for _, s := range []json.RawMessage{m.Schema, m.Schema2} {
		if s != nil && !isObject(s) {
			return errors.New(`"schema" and "schema_2" must be objects`)
		}
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	var o map[string]json.RawMessage
	return json.Unmarshal(raw, &o) == nil && o != nil
}

// Executable returns the executable that implements a module: the first
// libdir's <kind>/<name> that is an executable regular file, else builtin
// true when the module is built in (the guest's multi-call binary runs
// stages and assemblers, the engine runs sources and inputs), else
// ErrNoExecutable.
func (ix *Index) Executable(kind Kind, name string) (path string, builtin bool, err error) {
	if err := checkName(kind, name); err != nil {
		return "", false, err
	}
	for _, dir := range ix.libdirs {
		p := filepath.Join(dir, string(kind), name)
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, false, nil
		}
	}
	if _, ok := ix.builtinFile(kind, name); ok {
		return "", true, nil
	}
	return "", false, fmt.Errorf("module %s/%s: %w", kind, name, ErrNoExecutable)
}
