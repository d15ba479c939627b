package store

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Problem is one thing Check found wrong in a store.
type Problem struct {
	// Path is the entry's path relative to the store's root.
	Path string
	// Err says what is wrong with it.
	Err error
	// Leftover marks what a dead run left behind: garbage that no run
	// reads and that the next Open (for tmp/) or the next fetch (for a
	// partial source item) removes. Anything else is damage: an entry a
	// run could read and misread.
	Leftover bool
}

func (p Problem) String() string {
	if p.Leftover {
		return p.Path + ": leftover: " + p.Err.Error()
	}
	return p.Path + ": " + p.Err.Error()
}

// Errors of Check, for the problems it reports.
var (
	ErrIncomplete = errors.New("incomplete object")
	ErrDigest     = errors.New("content does not match its checksum")
	ErrDeadRun    = errors.New("left by a run that is gone")
)

// Check reads the store at dir, changing nothing, and reports every
// problem it finds, damage first, each kind in path order: in objects/, an
// entry that is not a complete object (which commits by rename should make
// impossible); in sources/org.osbuild.files/, an item whose content does
// not match its checksum; in tmp/ and among source items, what dead runs
// left (Problem.Leftover). Live runs are told apart by their locks, which
// Check probes without waiting; a run that starts while Check runs may be
// mistaken for a dead one, so call it on a store no run is opening.
//
// Check reads every object's tree archive to its end, so it costs what
// reading the store costs. Its error is for a store it cannot read at all.
func Check(dir string) ([]Problem, error) {
	if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
		return nil, fmt.Errorf("check store %s: %w", dir, err)
	}
	var ps []Problem
	for _, check := range []func(string) ([]Problem, error){checkObjects, checkSources, checkTmp} {
		found, err := check(dir)
		if err != nil {
			return nil, fmt.Errorf("check store %s: %w", dir, err)
		}
		ps = append(ps, found...)
	}
	sort.SliceStable(ps, func(i, j int) bool { return !ps[i].Leftover && ps[j].Leftover })
	return ps, nil
}

// checkObjects checks every entry of objects/.
func checkObjects(root string) ([]Problem, error) {
	ents, err := os.ReadDir(filepath.Join(root, "objects"))
	if err != nil {
		return nil, err
	}
	var ps []Problem
	for _, e := range ents {
		rel := filepath.Join("objects", e.Name())
		if err := ValidateID(e.Name()); err != nil {
			ps = append(ps, Problem{Path: rel, Err: err})
			continue
		}
		if !e.IsDir() {
			ps = append(ps, Problem{Path: rel, Err: fmt.Errorf("%w: a %v, not a directory", ErrIncomplete, e.Type())})
			continue
		}
		for _, err := range checkObject(filepath.Join(root, rel)) {
			ps = append(ps, Problem{Path: rel, Err: err})
		}
	}
	return ps, nil
}

// checkObject validates one committed object directory: what a run relies
// on when it finds the object. It grows with the object's format (an
// archive digest, a format version, ...): each check is one more error.
func checkObject(dir string) []error {
	var errs []error
	for _, name := range []string{treeFile, metaFile, infoFile, lockName} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || !fi.Mode().IsRegular() {
			errs = append(errs, fmt.Errorf("%w: no regular %s", ErrIncomplete, name))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []error{err}
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			errs = append(errs, fmt.Errorf("%w: half-written %s", ErrIncomplete, e.Name()))
		}
	}
	for _, check := range []func(string) error{checkMeta, checkInfo, checkTree} {
		if err := check(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkMeta: meta.json is a JSON object of stage id -> metadata object.
func checkMeta(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return err
	}
	var meta map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &meta); err != nil || meta == nil {
		return fmt.Errorf("%w: %s is not a JSON object of metadata objects", ErrIncomplete, metaFile)
	}
	return nil
}

// checkInfo: info.json records a size, which eviction sums, the tree
// format and the archive's digest, which every use checks.
func checkInfo(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return err
	}
	var info struct {
		Size *int64 `json:"size"`
	}
	if err := json.Unmarshal(data, &info); err != nil || info.Size == nil || *info.Size < 0 {
		return fmt.Errorf("%w: %s has no size", ErrIncomplete, infoFile)
	}
	if _, err := readInfo(dir); err != nil {
		return err
	}
	return nil
}

// checkDigest hashes the tree archive and compares it with the digest its
// commit recorded, as a run does before using the object.
func checkDigest(dir string) error {
	info, err := readInfo(dir)
	if err != nil {
		return nil // checkInfo says why
	}
	return (&Object{Dir: dir, SHA256: info.SHA256}).verify()
}

// checkTree reads the tree archive to its end: a torn archive ends inside
// an entry, or where an entry could start, without the end-of-archive
// marker (two zero blocks) that every tar writer puts last. A whole one
// must still have the digest its commit recorded.
func checkTree(dir string) error {
	f, err := os.Open(filepath.Join(dir, treeFile))
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			_, err = io.Copy(io.Discard, tr)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrIncomplete, treeFile, err)
		}
	}
	if !endsWithZeroBlocks(f) {
		return fmt.Errorf("%w: %s lacks the end-of-archive marker", ErrIncomplete, treeFile)
	}
	return checkDigest(dir)
}

// endsWithZeroBlocks reports whether f's last two 512-byte blocks are zero.
func endsWithZeroBlocks(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() < 1024 {
		return false
	}
	tail := make([]byte, 1024)
	if _, err := f.ReadAt(tail, fi.Size()-1024); err != nil {
		return false
	}
	return bytes.Count(tail, []byte{0}) == len(tail)
}

// sourceFiles is the directory of source items by checksum (curl and
// inline items), as engine/sources fills it.
const sourceFiles = "org.osbuild.files"

// partialSource starts the name of a source item being downloaded; its
// writer holds a flock on it (engine/sources).
const partialSource = ".partial-"

// checkSources hashes every source item and looks for partial items that
// no live download holds.
func checkSources(root string) ([]Problem, error) {
	dir := filepath.Join(root, "sources", sourceFiles)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ps []Problem
	for _, e := range ents {
		rel := filepath.Join("sources", sourceFiles, e.Name())
		path := filepath.Join(root, rel)
		if strings.HasPrefix(e.Name(), partialSource) {
			if !lockedByOther(path) {
				ps = append(ps, Problem{Path: rel, Err: fmt.Errorf("partial download %w", ErrDeadRun), Leftover: true})
			}
			continue
		}
		if err := checkSourceItem(path, e.Name()); err != nil {
			ps = append(ps, Problem{Path: rel, Err: err})
		}
	}
	return ps, nil
}

// checkSourceItem hashes a source item named <algorithm>:<hex digest>.
func checkSourceItem(path, name string) error {
	algo, want, _ := strings.Cut(name, ":")
	newHash := map[string]func() hash.Hash{"sha256": sha256.New, "sha384": sha512.New384, "sha512": sha512.New}[algo]
	if newHash == nil {
		return fmt.Errorf("%w: %q names no checksum", ErrDigest, name)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := newHash()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: %s:%s", ErrDigest, algo, got)
	}
	return nil
}

// checkTmp finds the areas of runs that are gone: a lock file no one
// holds, or an area without a lock file.
func checkTmp(root string) ([]Problem, error) {
	dir := filepath.Join(root, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ps []Problem
	for _, e := range ents {
		name, isLock := strings.CutSuffix(e.Name(), ".lock")
		lock := filepath.Join(dir, name+".lock")
		if (isLock || fileExists(lock)) && lockedByOther(lock) {
			continue
		}
		ps = append(ps, Problem{Path: filepath.Join("tmp", e.Name()), Err: ErrDeadRun, Leftover: true})
	}
	return ps, nil
}

// lockedByOther reports whether someone holds a flock on path; probing
// takes a shared lock for an instant, never waiting.
func lockedByOther(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(flock(f, unix.LOCK_SH|unix.LOCK_NB), errBusy)
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
