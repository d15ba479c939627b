package archive

import (
	"errors"
	"strings"
	"testing"

	"pault.ag/go/debian/version"
)

func mustVersion(t testing.TB, s string) version.Version {
	t.Helper()
	v, err := version.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseRelations(t *testing.T) {
	groups, err := ParseRelations("linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1), libc6:any (>= 2.34) | musl, perl:native,\n libssl3t64 (<<3.0.13-1~)")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		var alts []string
		for _, r := range g {
			alts = append(alts, r.String())
		}
		got = append(got, strings.Join(alts, " | "))
	}
	want := "linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1), libc6:any (>= 2.34) | musl, perl:native, libssl3t64 (<< 3.0.13-1~)"
	if s := strings.Join(got, ", "); s != want {
		t.Errorf("ParseRelations = %q, want %q", s, want)
	}
	for _, bad := range []string{"a (>= )", "a (~ 1)", "${shlibs:Depends}", "a [amd64]", "a <!nocheck>", "A", "a (>= 1.0-)"} {
		if _, err := ParseRelations(bad); !errors.Is(err, ErrBadRelation) {
			t.Errorf("ParseRelations(%q) error = %v, want ErrBadRelation", bad, err)
		}
	}
}

func TestRelationSatisfies(t *testing.T) {
	tests := []struct {
		rel, ver string
		want     bool
	}{
		{"a", "1", true},
		{"a (= 1.0-1)", "1.0-1", true},
		{"a (= 1.0-1)", "1.0-1+b1", false},
		{"a (>= 1.10)", "1.9", false},
		{"a (>= 1.0~rc1)", "1.0", true},
		{"a (<< 3.0.13-1~)", "3.0.13-1", false},
		{"a (<< 3.0.13-1~)", "3.0.11-1", true},
		{"a (>= 1:0.9)", "2.0", false},
		{"a (>> 1.0)", "1.0", false},
		{"a (>> 1.0)", "1.0+b1", true},
	}
	for _, tt := range tests {
		groups, err := ParseRelations(tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		if got := groups[0][0].Satisfies(mustVersion(t, tt.ver)); got != tt.want {
			t.Errorf("%s satisfied by %s = %v, want %v", tt.rel, tt.ver, got, tt.want)
		}
	}
}

func TestNewest(t *testing.T) {
	pkg := func(name, v string) Package { return Package{Package: name, Version: v, Ver: mustVersion(t, v)} }
	pkgs := []Package{pkg("a", "1.0"), pkg("a", "1.10"), pkg("a", "1.9"), pkg("b", "9")}
	if p, ok := Newest(pkgs, Relation{Name: "a"}); !ok || p.Version != "1.10" {
		t.Errorf("Newest(a) = %+v %v, want 1.10", p, ok)
	}
	if p, ok := Newest(pkgs, Relation{Name: "a", Op: "<<", Version: mustVersion(t, "1.10")}); !ok || p.Version != "1.9" {
		t.Errorf("Newest(a << 1.10) = %+v %v, want 1.9", p, ok)
	}
	if _, ok := Newest(pkgs, Relation{Name: "c"}); ok {
		t.Error("Newest found a package that does not exist")
	}
}

// FuzzParseRelations checks that what the parser accepts is well formed and
// reads back the same when written out (String) and parsed again.
func FuzzParseRelations(f *testing.F) {
	for _, s := range []string{"a", "libc6 (>= 2.36), b | c:any (<< 1~)", "a (= 1:2.3-4+b1) | b:native", "a (>=1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		groups, err := ParseRelations(in)
		if err != nil {
			if !errors.Is(err, ErrBadRelation) {
				t.Fatalf("error outside ErrBadRelation: %v", err)
			}
			return
		}
		var parts []string
		for _, g := range groups {
			if len(g) == 0 {
				t.Fatalf("empty group from %q", in)
			}
			var alts []string
			for _, r := range g {
				if !ValidPackageName(r.Name) || (r.Op == "") != r.Version.Empty() {
					t.Fatalf("accepted bad relation %+v from %q", r, in)
				}
				alts = append(alts, r.String())
			}
			parts = append(parts, strings.Join(alts, " | "))
		}
		out := strings.Join(parts, ", ")
		again, err := ParseRelations(out)
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", out, in, err)
		}
		if len(again) != len(groups) {
			t.Fatalf("round trip of %q changed %d groups to %d", in, len(groups), len(again))
		}
		for i := range groups {
			for j := range groups[i] {
				a, b := groups[i][j], again[i][j]
				if a.Name != b.Name || a.Arch != b.Arch || a.Op != b.Op || version.Compare(a.Version, b.Version) != 0 {
					t.Fatalf("round trip of %q: %+v became %+v", in, a, b)
				}
			}
		}
	})
}
