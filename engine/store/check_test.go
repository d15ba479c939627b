package store

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf is a small tree archive.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"etc/hostname", "etc/motd"} {
		body, ok := files[name]
		if !ok {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkedStore makes a store with two committed objects and one source
// item, all sound, and returns its directory.
func checkedStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxSize: ptr(Unlimited)})
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"one\n", "two\n"} {
		p, err := s.NewObject(testID(i))
		if err != nil {
			t.Fatal(err)
		}
		tree := tarOf(t, map[string]string{"etc/hostname": body, "etc/motd": strings.Repeat(body, 300)})
		if err := p.WriteTree(func(w io.Writer) error { _, err := w.Write(tree); return err }); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Commit(map[string]json.RawMessage{testID(i): json.RawMessage(`{"k":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	item := []byte("source item\n")
	sum := sha256.Sum256(item)
	files := s.SourceDir(sourceFiles)
	os.MkdirAll(files, 0o755)
	if err := os.WriteFile(filepath.Join(files, "sha256:"+hex.EncodeToString(sum[:])), item, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCheck damages a sound store in one way at a time: Check reports
// exactly that, as damage or as a leftover.
func TestCheck(t *testing.T) {
	obj := func(dir string, n int, name string) string { return filepath.Join(dir, "objects", testID(n), name) }
	source := func(dir string) string {
		m, _ := filepath.Glob(filepath.Join(dir, "sources", sourceFiles, "sha256:*"))
		return m[0]
	}
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		path     string // prefix of the problem's path
		want     error
		leftover bool
	}{
		{"tree torn in an entry", func(t *testing.T, dir string) {
			os.Truncate(obj(dir, 0, treeFile), 2000)
		}, "objects/" + testID(0), ErrIncomplete, false},
		{"tree torn between entries", func(t *testing.T, dir string) {
			os.Truncate(obj(dir, 0, treeFile), 1024)
		}, "objects/" + testID(0), ErrIncomplete, false},
		{"tree without its end", func(t *testing.T, dir string) {
			fi, _ := os.Stat(obj(dir, 1, treeFile))
			os.Truncate(obj(dir, 1, treeFile), fi.Size()-512)
		}, "objects/" + testID(1), ErrIncomplete, false},
		{"a byte of a file changed", func(t *testing.T, dir string) {
			f, err := os.OpenFile(obj(dir, 1, treeFile), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("T"), 512); err != nil { // the first file's first byte
				t.Fatal(err)
			}
		}, "objects/" + testID(1), ErrDamaged, false},
		{"another tree format", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(obj(dir, 0, infoFile))
			os.WriteFile(obj(dir, 0, infoFile), []byte(strings.Replace(string(data), `"format":1`, `"format":99`, 1)), 0o644)
		}, "objects/" + testID(0), ErrStale, false},
		{"no tree", func(t *testing.T, dir string) {
			os.Remove(obj(dir, 1, treeFile))
		}, "objects/" + testID(1), ErrIncomplete, false},
		{"no info", func(t *testing.T, dir string) {
			os.Remove(obj(dir, 0, infoFile))
		}, "objects/" + testID(0), ErrIncomplete, false},
		{"meta not an object", func(t *testing.T, dir string) {
			os.WriteFile(obj(dir, 0, metaFile), []byte(`[1`), 0o644)
		}, "objects/" + testID(0), ErrIncomplete, false},
		{"half-written file", func(t *testing.T, dir string) {
			os.WriteFile(obj(dir, 1, ".tmp-meta.json-123"), []byte(`{`), 0o644)
		}, "objects/" + testID(1), ErrIncomplete, false},
		{"not an id", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "objects", "pending-1"), 0o755)
		}, "objects/pending-1", ErrInvalidID, false},
		{"source changed", func(t *testing.T, dir string) {
			os.WriteFile(source(dir), []byte("tampered\n"), 0o644)
		}, "sources/" + sourceFiles + "/sha256:", ErrDigest, false},
		{"partial download of a dead run", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "sources", sourceFiles, ".partial-sha256-1"), []byte("so"), 0o644)
		}, "sources/" + sourceFiles + "/.partial-", ErrDeadRun, true},
		{"dead run", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "tmp", "run-dead.lock"), nil, 0o644)
		}, "tmp/run-dead.lock", ErrDeadRun, true},
		{"area without lock", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "tmp", "run-orphan"), 0o700)
		}, "tmp/run-orphan", ErrDeadRun, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := checkedStore(t)
			if ps, err := Check(dir); err != nil || len(ps) != 0 {
				t.Fatalf("sound store: %v %v", ps, err)
			}
			tt.damage(t, dir)
			ps, err := Check(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 || !strings.HasPrefix(ps[0].Path, tt.path) || !errors.Is(ps[0].Err, tt.want) || ps[0].Leftover != tt.leftover {
				t.Fatalf("problems %v; want one at %s: %v (leftover %v)", ps, tt.path, tt.want, tt.leftover)
			}
		})
	}
}

// TestCheckLiveRun: the areas of live runs and a download in progress are
// not problems; once the run is gone, the next Open leaves nothing for
// Check to report.
func TestCheckLiveRun(t *testing.T) {
	dir := checkedStore(t)
	s := mustOpen(t, dir, Options{})
	p, err := s.NewObject(testID(5))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p.treePath(), []byte("half a tree"), 0o644)
	partial := filepath.Join(dir, "sources", sourceFiles, ".partial-sha256-live")
	f, err := lockFile(partial, 2 /* LOCK_EX */, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ps, err := Check(dir); err != nil || len(ps) != 0 {
		t.Fatalf("a live run and download: %v %v", ps, err)
	}
}
