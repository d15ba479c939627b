package depsolve

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/internal/fakearchive"
)

// entry is one package of a synthetic archive: "name version" and further
// control fields as written ("Depends: a | b").
type entry struct {
	name, version, arch string
	fields              []string
}

// pkg is an amd64 entry.
func pkg(name, version string, fields ...string) entry {
	return entry{name: name, version: version, arch: "amd64", fields: fields}
}

// allPkg is an Architecture: all entry.
func allPkg(name, version string, fields ...string) entry {
	return entry{name: name, version: version, arch: "all", fields: fields}
}

// universe publishes entries (in order) as main/binary-amd64 of a signed
// fake archive and loads it through package archive, as Resolve's callers
// do.
func universe(t *testing.T, entries ...entry) *Universe {
	t.Helper()
	fa := fakearchive.New(t, "trixie")
	for _, e := range entries {
		fa.AddDebTo("amd64", e.arch, e.name, e.version, []byte(e.name+"_"+e.version), e.fields...)
	}
	fa.Publish(t)
	a := &archive.Archive{Mirror: fa.URL(), Suite: "trixie", Keyring: fa.Keyring, Client: fa.Server.Client(),
		Now: func() time.Time { return fakearchive.Date.Add(time.Hour) }}
	u, err := Load(context.Background(), a, []string{"main"}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	published.Store(u, entries)
	return u
}

// resolve returns the resolved "name version" list in install order.
func resolve(t *testing.T, u *Universe, req Request) []string {
	t.Helper()
	r, err := u.Resolve(req)
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", req, err)
	}
	var out []string
	for _, p := range r.Packages {
		out = append(out, p.Package+" "+p.Version)
	}
	if apt, checked := aptResolve(t, u, req); checked && (!apt.ok || !slices.Equal(apt.set, sorted(out))) {
		t.Errorf("Resolve(%+v) = %v, but apt-get installs %v (ok %v):\n%s", req, sorted(out), apt.set, apt.ok, apt.out)
	}
	return out
}

// sorted returns a sorted copy, for comparing sets.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// wantSet fails unless got holds exactly want (any order).
func wantSet(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("resolved %v, want %v", sorted(got), sorted(want))
	}
}

// wantError fails unless Resolve fails with class and a message holding
// every part.
func wantError(t *testing.T, u *Universe, req Request, class error, parts ...string) {
	t.Helper()
	_, err := u.Resolve(req)
	if !errors.Is(err, class) {
		t.Fatalf("Resolve(%+v) error = %v, want %v", req, err, class)
	}
	// A bad request is ours to refuse; apt-get has a meaning for some.
	if apt, checked := aptResolve(t, u, req); checked && apt.ok && class != ErrBadRequest {
		t.Errorf("Resolve(%+v) fails (%v), but apt-get installs %v", req, err, apt.set)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// before fails unless a comes before b in order.
func before(t *testing.T, order []string, a, b string) {
	t.Helper()
	ia := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, a+" ") })
	ib := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, b+" ") })
	if ia < 0 || ib < 0 || ia > ib {
		t.Errorf("%s should come before %s in %v", a, b, order)
	}
}
