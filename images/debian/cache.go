package debian

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// cache is <store>/vm-kernels (see the package comment for its layout).
type cache struct{ root string }

// indexKey is what a cached kernel was resolved from.
type indexKey struct {
	Mirror string `json:"mirror"`
	Suite  string `json:"suite"`
	Arch   string `json:"arch"`
}

type indexEntry struct {
	indexKey
	SHA256 string `json:"sha256"`
}

func (k indexKey) file() string {
	sum := sha256.Sum256([]byte(k.Mirror + "\n" + k.Suite + "\n" + k.Arch))
	return hex.EncodeToString(sum[:]) + ".json"
}

// lookup returns the kernel the index names for key.
func (c cache) lookup(key indexKey) (*Kernel, error) {
	data, err := os.ReadFile(filepath.Join(c.root, "index", key.file()))
	if err != nil {
		return nil, err
	}
	var e indexEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("read vm kernel index: %w", err)
	}
	if e.indexKey != key {
		return nil, fmt.Errorf("read vm kernel index: entry is for %+v", e.indexKey)
	}
	return c.load(e.SHA256)
}

// load reads <root>/<sha256>/kernel.json and makes its paths absolute.
func (c cache) load(sum string) (*Kernel, error) {
	if !archive.ValidSHA256(sum) {
		return nil, fmt.Errorf("load vm kernel %q: not a sha256 digest", sum)
	}
	dir := filepath.Join(c.root, sum)
	data, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, err
	}
	var k Kernel
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("load vm kernel %s: %w", dir, err)
	}
	if k.SHA256 != sum {
		return nil, fmt.Errorf("load vm kernel %s: kernel.json names %s", dir, k.SHA256)
	}
	if missing := k.missingModules(); len(missing) > 0 {
		return nil, fmt.Errorf("load vm kernel %s: %w: no %v (an older osbuild-vm extracted it)", dir, errStale, missing)
	}
	return k.absolute(dir)
}

// errStale marks a cached kernel extracted for an older NeededModules.
var errStale = errors.New("stale cache entry")

// missingModules lists NeededModules that the kernel has neither as a
// module file nor built in.
func (k Kernel) missingModules() []string {
	have := map[string]bool{}
	for _, m := range k.Modules {
		have[m.Name] = true
	}
	for _, b := range k.Builtin {
		have[b] = true
	}
	var missing []string
	for _, n := range NeededModules {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return missing
}

// absolute turns kernel.json's relative paths into paths under dir,
// refusing any that would leave it.
func (k Kernel) absolute(dir string) (*Kernel, error) {
	k.Dir = dir
	abs := func(rel string) (string, error) {
		if !filepath.IsLocal(rel) {
			return "", fmt.Errorf("load vm kernel %s: path %q leaves the directory", dir, rel)
		}
		return filepath.Join(dir, rel), nil
	}
	var err error
	if k.Image, err = abs(k.Image); err != nil {
		return nil, err
	}
	mods := make([]Module, len(k.Modules))
	for i, m := range k.Modules {
		if mods[i].Path, err = abs(m.Path); err != nil {
			return nil, err
		}
		mods[i].Name = m.Name
	}
	k.Modules = mods
	return &k, nil
}

// relative is the inverse of absolute, for writing kernel.json.
func (k Kernel) relative() (Kernel, error) {
	rel := func(p string) (string, error) { return filepath.Rel(k.Dir, p) }
	var err error
	if k.Image, err = rel(k.Image); err != nil {
		return k, err
	}
	mods := make([]Module, len(k.Modules))
	for i, m := range k.Modules {
		mods[i].Name = m.Name
		if mods[i].Path, err = rel(m.Path); err != nil {
			return k, err
		}
	}
	k.Modules = mods
	return k, nil
}

func (c cache) tempDir() (string, error) {
	if err := os.MkdirAll(c.root, 0o755); err != nil {
		return "", fmt.Errorf("create vm kernel cache: %w", err)
	}
	dir, err := os.MkdirTemp(c.root, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("create vm kernel cache: %w", err)
	}
	return dir, nil
}

// commit writes kernel.json into tmp and renames tmp to <root>/<sha256>.
// If another process got there first, its copy is used.
func (c cache) commit(tmp string, k *Kernel) (*Kernel, error) {
	rel, err := k.relative()
	if err != nil {
		return nil, fmt.Errorf("commit vm kernel: %w", err)
	}
	data, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("commit vm kernel: %w", err)
	}
	if err := writeFileSync(filepath.Join(tmp, "kernel.json"), data); err != nil {
		return nil, fmt.Errorf("commit vm kernel: %w", err)
	}
	if err := durable.SyncDir(tmp); err != nil {
		return nil, fmt.Errorf("commit vm kernel: %w", err)
	}
	final := filepath.Join(c.root, k.SHA256)
	if _, err := c.load(k.SHA256); errors.Is(err, errStale) {
		os.RemoveAll(final) // made for fewer modules: this one replaces it
	}
	if err := os.Rename(tmp, final); err != nil && !errors.Is(err, os.ErrExist) && !isNotEmpty(err) {
		return nil, fmt.Errorf("commit vm kernel %s: %w", final, err)
	}
	if err := durable.SyncDir(c.root); err != nil {
		return nil, fmt.Errorf("commit vm kernel: %w", err)
	}
	return c.load(k.SHA256)
}

// remember points the index entry for key at sum.
func (c cache) remember(key indexKey, sum string) error {
	dir := filepath.Join(c.root, "index")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write vm kernel index: %w", err)
	}
	data, err := json.MarshalIndent(indexEntry{indexKey: key, SHA256: sum}, "", "  ")
	if err != nil {
		return fmt.Errorf("write vm kernel index: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("write vm kernel index: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write vm kernel index: %w", err)
	}
	if err := durable.Commit(tmp, filepath.Join(dir, key.file())); err != nil {
		return fmt.Errorf("write vm kernel index: %w", err)
	}
	return nil
}
