package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// newFake serves a bookworm archive holding one amd64 package "hello" in
// two versions.
func newFake(t *testing.T, byHash bool) (*fakearchive.Archive, *Archive) {
	t.Helper()
	fa := fakearchive.New(t, "bookworm")
	fa.ByHash = byHash
	fa.AddDeb("amd64", "hello", "1.0-1", []byte("old deb"))
	fa.AddDeb("amd64", "hello", "1.2-1", []byte("new deb"), "Depends: libc6 (>= 2.36)")
	fa.Publish(t)
	a := &Archive{Mirror: fa.URL(), Suite: "bookworm", Keyring: fa.Keyring, Client: fa.Server.Client(),
		Now: func() time.Time { return fakearchive.Date.Add(time.Hour) }}
	return fa, a
}

func TestResolveAndDownload(t *testing.T) {
	for _, byHash := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "by-hash"}[byHash], func(t *testing.T) {
			_, a := newFake(t, byHash)
			ctx := context.Background()
			p, err := a.ResolvePackage(ctx, "amd64", "hello")
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != "1.2-1" || p.Depends != "libc6 (>= 2.36)" || p.URL != a.PoolURL(p.Filename) {
				t.Errorf("ResolvePackage = %+v", p)
			}
			dest := filepath.Join(t.TempDir(), "hello.deb")
			if err := a.Download(ctx, p, dest); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(dest); string(got) != "new deb" {
				t.Errorf("downloaded %q, want %q", got, "new deb")
			}
		})
	}
}

func TestArchiveFailures(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, fa *fakearchive.Archive, a *Archive)
		want   error
	}{
		{"signed by unknown key", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {
			fa.Set("dists/bookworm/InRelease", fakearchive.Sign(t, fakearchive.NewKey(t), fa.Get("dists/bookworm/Release")))
		}, ErrBadSignature},
		{"tampered signed text", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {
			data := fa.Get("dists/bookworm/InRelease")
			i := bytes.Index(data, []byte("Codename: bookworm"))
			fa.Set("dists/bookworm/InRelease", append(append(append([]byte{}, data[:i]...), "Codename: bookwarm"...), data[i+18:]...))
		}, ErrBadSignature},
		{"not signed", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {
			fa.Set("dists/bookworm/InRelease", fa.Get("dists/bookworm/Release"))
		}, ErrBadSignature},
		{"other suite", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {
			a.Suite = "trixie"
			fa.Set("dists/trixie/InRelease", fa.Get("dists/bookworm/InRelease"))
		}, ErrBadRelease},
		{"dated in the future", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {
			a.Now = func() time.Time { return fakearchive.Date.Add(-48 * time.Hour) }
		}, ErrBadRelease},
		{"tampered Packages", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {
			fa.Set("dists/bookworm/main/binary-amd64/Packages.xz", []byte("not what was signed"))
		}, ErrDigestMismatch},
		{"missing arch", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {}, ErrNotFound},
		{"missing package", func(t *testing.T, fa *fakearchive.Archive, a *Archive) {}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, a := newFake(t, false)
			tt.tamper(t, fa, a)
			arch, name := "amd64", "hello"
			switch tt.name {
			case "missing arch":
				arch = "arm64"
			case "missing package":
				name = "nosuch"
			}
			_, err := a.ResolvePackage(context.Background(), arch, name)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ResolvePackage error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestExpiredRelease(t *testing.T) {
	fa := fakearchive.New(t, "bookworm")
	fa.ValidUntil = fakearchive.Date.Add(24 * time.Hour)
	fa.AddDeb("amd64", "hello", "1", []byte("x"))
	fa.Publish(t)
	for _, tt := range []struct {
		name  string
		after time.Duration
		want  error
	}{{"valid", time.Hour, nil}, {"expired", 48 * time.Hour, ErrBadRelease}} {
		t.Run(tt.name, func(t *testing.T) {
			a := &Archive{Mirror: fa.URL(), Suite: "bookworm", Keyring: fa.Keyring,
				Now: func() time.Time { return fakearchive.Date.Add(tt.after) }}
			r, err := a.Release(context.Background())
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Release error = %v, want %v", err, tt.want)
			}
			if err == nil && !r.ValidUntil.Equal(fa.ValidUntil) {
				t.Errorf("ValidUntil = %v, want %v", r.ValidUntil, fa.ValidUntil)
			}
		})
	}
}

func TestDownloadTamperedDeb(t *testing.T) {
	fa, a := newFake(t, false)
	ctx := context.Background()
	p, err := a.ResolvePackage(ctx, "amd64", "hello")
	if err != nil {
		t.Fatal(err)
	}
	fa.Set(p.Filename, []byte("evil deb"))
	dir := t.TempDir()
	dest := filepath.Join(dir, "hello.deb")
	if err := a.Download(ctx, p, dest); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Download error = %v, want ErrDigestMismatch", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Download left %d files behind after a mismatch", len(entries))
	}
}

func TestReleaseIsRemembered(t *testing.T) {
	fa, a := newFake(t, false)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := a.Packages(ctx, "amd64"); err != nil {
			t.Fatal(err)
		}
	}
	if n := fa.Requests(); n != 2 {
		t.Errorf("3 Packages calls made %d requests, want 2 (InRelease + Packages.xz)", n)
	}
}

func TestEmbeddedKeyring(t *testing.T) {
	el, err := EmbeddedKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if len(el) != 6 {
		t.Errorf("embedded keyring has %d keys, want 6 (bookworm and trixie: automatic, security, stable)", len(el))
	}
}
