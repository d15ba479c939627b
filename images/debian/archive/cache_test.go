package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// cachedArchive is a fresh Archive (nothing in memory) over fa using the
// index cache in dir, at fakearchive.Date plus after.
func cachedArchive(fa *fakearchive.Archive, dir string, after time.Duration) *Archive {
	return &Archive{Mirror: fa.URL(), Suite: "bookworm", Keyring: fa.Keyring, Client: fa.Server.Client(),
		Now:   func() time.Time { return fakearchive.Date.Add(after) },
		Cache: &IndexCache{Dir: dir, MaxAge: time.Hour}}
}

func TestIndexCache(t *testing.T) {
	fa, _ := newFake(t, true)
	dir := t.TempDir()
	ctx := context.Background()
	load := func(after time.Duration) []Package {
		t.Helper()
		pkgs, err := cachedArchive(fa, dir, after).Packages(ctx, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		return pkgs
	}
	steps := []struct {
		name     string
		after    time.Duration
		prepare  func()
		requests int64
	}{
		{"cold: InRelease and Packages.xz", time.Minute, nil, 2},
		{"warm: nothing", 2 * time.Minute, nil, 0},
		{"InRelease older than MaxAge: fetched again, Packages from the cache", 2 * time.Hour, nil, 1},
		{"damaged cached index: fetched again", 2*time.Hour + time.Minute, func() { damageBlobs(t, dir) }, 2},
	}
	for _, st := range steps {
		if st.prepare != nil {
			st.prepare()
		}
		before := fa.Requests()
		pkgs := load(st.after)
		if got := fa.Requests() - before; got != st.requests {
			t.Errorf("%s: %d requests, want %d", st.name, got, st.requests)
		}
		if len(pkgs) != 2 || pkgs[1].Version != "1.2-1" {
			t.Errorf("%s: packages %+v", st.name, pkgs)
		}
	}
}

// damageBlobs flips a byte in every cached file.
func damageBlobs(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "sha256", "*"))
	if len(files) == 0 {
		t.Fatal("nothing cached")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 1
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIndexCacheRechecksValidUntil(t *testing.T) {
	fa := fakearchive.New(t, "bookworm")
	fa.ValidUntil = fakearchive.Date.Add(24 * time.Hour)
	fa.AddDeb("amd64", "hello", "1", []byte("x"))
	fa.Publish(t)
	dir := t.TempDir()
	a := cachedArchive(fa, dir, 23*time.Hour)
	a.Cache.MaxAge = 48 * time.Hour
	if _, err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := cachedArchive(fa, dir, 25*time.Hour)
	b.Cache.MaxAge = 48 * time.Hour
	before := fa.Requests()
	if _, err := b.Release(context.Background()); err == nil {
		t.Fatal("an expired cached InRelease was accepted")
	}
	if fa.Requests() == before {
		t.Error("an expired cached InRelease was not fetched again")
	}
}

func TestIndexCacheKeepsOnlyVerified(t *testing.T) {
	fa, _ := newFake(t, false)
	fa.Set("dists/bookworm/main/binary-amd64/Packages.xz", fa.Get("dists/bookworm/main/binary-amd64/Packages.xz")[:40])
	dir := t.TempDir()
	if _, err := cachedArchive(fa, dir, time.Minute).Packages(context.Background(), "amd64"); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Packages error = %v, want ErrDigestMismatch", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sha256", "*"))
	if len(files) != 1 { // the InRelease only
		t.Errorf("cache holds %d files after a failed download, want 1 (InRelease): %v", len(files), files)
	}
}
