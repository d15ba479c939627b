package depsolve

import (
	"slices"
	"testing"
)

func TestPreDependsAndDepends(t *testing.T) {
	u := universe(t,
		pkg("app", "1", "Pre-Depends: pre", "Depends: lib, data"),
		pkg("pre", "1"), pkg("lib", "1", "Depends: base"), pkg("data", "1"), pkg("base", "1"),
		pkg("unrelated", "1"))
	got := resolve(t, u, Request{Packages: []string{"app"}})
	wantSet(t, got, "app 1", "pre 1", "lib 1", "data 1", "base 1")
}

func TestAlternativesInWrittenOrder(t *testing.T) {
	u := universe(t,
		pkg("first", "1", "Depends: x | y"),
		pkg("missing", "1", "Depends: nosuch | y"),
		pkg("tooold", "1", "Depends: x (>= 2) | y"),
		pkg("x", "1"), pkg("y", "1"))
	tests := []struct {
		name, pkg, want string
	}{
		{"first alternative wins", "first", "x 1"},
		{"an alternative not in the archive is skipped", "missing", "y 1"},
		{"an alternative whose version does not fit is skipped", "tooold", "y 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSet(t, resolve(t, u, Request{Packages: []string{tt.pkg}}), tt.pkg+" 1", tt.want)
		})
	}
}

func TestAlternativeAlreadySelectedIsPreferred(t *testing.T) {
	u := universe(t,
		pkg("a", "1", "Depends: x | y"),
		pkg("b", "1", "Depends: y"),
		pkg("x", "1"), pkg("y", "1"))
	// apt marks every requested package before it looks at dependencies,
	// and follows them depth first in request order.
	wantSet(t, resolve(t, u, Request{Packages: []string{"a", "y"}}), "a 1", "y 1")
	wantSet(t, resolve(t, u, Request{Packages: []string{"b", "a"}}), "a 1", "b 1", "y 1")
	wantSet(t, resolve(t, u, Request{Packages: []string{"a", "b"}}), "a 1", "b 1", "x 1", "y 1")
}

func TestVirtualPackagesAndVersionedProvides(t *testing.T) {
	u := universe(t,
		pkg("unversioned", "1", "Provides: v", "Priority: required"),
		pkg("wantsv", "1", "Depends: v"),
		pkg("wantsv2", "1", "Depends: v (>= 2)"),
		pkg("optional", "1", "Provides: v (= 3)", "Priority: optional"),
		pkg("important", "1", "Provides: v (= 1)", "Priority: important"))
	tests := []struct {
		name, pkg, want string
	}{
		// apt ranks providers by Priority (required first) ...
		{"unversioned relation: highest priority provider", "wantsv", "unversioned 1"},
		// ... and an unversioned Provides never satisfies a versioned relation.
		{"versioned relation: only versioned provides that fit", "wantsv2", "optional 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSet(t, resolve(t, u, Request{Packages: []string{tt.pkg}}), tt.pkg+" 1", tt.want)
		})
	}
}

func TestRealPackageBeatsProviders(t *testing.T) {
	u := universe(t,
		pkg("a", "1", "Depends: v"),
		pkg("v", "1", "Priority: optional"),
		pkg("prov", "1", "Provides: v", "Priority: required", "Essential: yes"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"a"}}), "a 1", "v 1")
}

func TestProviderTieBrokenByAptPackageOrder(t *testing.T) {
	// Equal in every other rule, apt takes the provider with the higher
	// package ID: the name its cache met later ("late" is first named by
	// early's Recommends, before "early" itself is described).
	u := universe(t,
		pkg("a", "1", "Depends: v"),
		pkg("late", "1", "Provides: v"),
		pkg("early", "1", "Provides: v"),
		pkg("zzz", "1", "Recommends: late"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"a"}}), "a 1", "early 1")
	u = universe(t,
		pkg("zzz", "1", "Recommends: late"),
		pkg("a", "1", "Depends: v"),
		pkg("late", "1", "Provides: v"),
		pkg("early", "1", "Provides: v"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"a"}}), "a 1", "early 1")
	u = universe(t,
		pkg("zzz", "1", "Recommends: early"),
		pkg("a", "1", "Depends: v"),
		pkg("late", "1", "Provides: v"),
		pkg("early", "1", "Provides: v"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"a"}}), "a 1", "late 1")
}

func TestTwoVersionConstraintsOnOneTarget(t *testing.T) {
	fits := universe(t, pkg("a", "1", "Depends: lib (>= 1.0), lib (<< 2.0)"), pkg("lib", "1.5"))
	wantSet(t, resolve(t, fits, Request{Packages: []string{"a"}}), "a 1", "lib 1.5")
	tooNew := universe(t, pkg("a", "1", "Depends: lib (>= 1.0), lib (<< 2.0)"), pkg("lib", "2.5"))
	wantError(t, tooNew, Request{Packages: []string{"a"}}, ErrUnsatisfiable, "a 1 depends on lib (<< 2.0)", "lib 2.5")
}

func TestNewestVersionIsTheCandidate(t *testing.T) {
	u := universe(t, pkg("a", "1", "Depends: lib (<< 2)"), pkg("lib", "1.9"), pkg("lib", "2.1"), pkg("lib", "1:0.1"), pkg("lib", "1.0"))
	// Like apt, only the candidate (the highest version, here the epoch
	// one) is considered, even when an older version would fit.
	wantError(t, u, Request{Packages: []string{"a"}}, ErrUnsatisfiable, "lib (<< 2)", "lib 1:0.1")
	wantSet(t, resolve(t, u, Request{Packages: []string{"lib"}}), "lib 1:0.1")
}

func TestBreaksAgainstVersionedProvides(t *testing.T) {
	// trixie's 64-bit time_t renames: libssl3t64 provides libssl3 (= v)
	// and breaks the old libssl3 (<< v).
	entries := []entry{
		pkg("libssl3", "3.0.11-1"),
		pkg("libssl3t64", "3.0.13-1", "Provides: libssl3 (= 3.0.13-1)", "Breaks: libssl3 (<< 3.0.13-1)", "Conflicts: libssl3 (<< 3.0.13-1)"),
		pkg("new", "1", "Depends: libssl3t64"),
		pkg("old", "1", "Depends: libssl3 (>= 3.0.0)"),
		pkg("breaksold", "1", "Breaks: libssl3 (<< 3.0.12)"),
		pkg("breaksall", "1", "Breaks: libssl3 (<< 4)"),
	}
	u := universe(t, entries...)
	want := []string{"libssl3t64 3.0.13-1", "new 1", "old 1"}
	// Whichever comes first, the renamed library serves both: when "old"
	// comes first apt picks the real libssl3, then unmarks it when
	// libssl3t64 breaks it.
	wantSet(t, resolve(t, u, Request{Packages: []string{"new", "old"}}), want...)
	wantSet(t, resolve(t, u, Request{Packages: []string{"old", "new"}}), want...)
	// Breaks on an older version of the provided name leave it alone ...
	wantSet(t, resolve(t, u, Request{Packages: []string{"new", "breaksold"}}), "breaksold 1", "libssl3t64 3.0.13-1", "new 1")
	// ... a range that holds the provided version does not.
	wantError(t, u, Request{Packages: []string{"new", "breaksall"}}, ErrUnsatisfiable, "breaksall 1", "libssl3t64 3.0.13-1")
}

func TestConflictWithAProvidedName(t *testing.T) {
	u := universe(t,
		pkg("mta1", "1", "Provides: mail-transport-agent", "Conflicts: mail-transport-agent"),
		pkg("mta2", "1", "Provides: mail-transport-agent", "Conflicts: mail-transport-agent"),
		pkg("mailer", "1", "Depends: mta1 | mail-transport-agent"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"mta1"}}), "mta1 1")
	wantSet(t, resolve(t, u, Request{Packages: []string{"mailer"}}), "mailer 1", "mta1 1")
	wantError(t, u, Request{Packages: []string{"mta1", "mta2"}}, ErrUnsatisfiable, "mta1 1", "mta2 1")
}

func TestConflictSendsToNextAlternative(t *testing.T) {
	u := universe(t,
		pkg("a", "1", "Depends: x | y"),
		pkg("x", "1", "Conflicts: z"),
		pkg("y", "1"), pkg("z", "1"),
		pkg("w", "1", "Breaks: x"), pkg("w2", "1"),
		pkg("hard", "1", "Depends: x"), pkg("zz", "1", "Conflicts: x"),
		pkg("b", "1", "Depends: w | w2"))
	// z is asked for (protected), so x cannot be installed: apt tries y.
	wantSet(t, resolve(t, u, Request{Packages: []string{"z", "a"}}), "a 1", "y 1", "z 1")
	// Both asked for: nothing serves.
	wantError(t, u, Request{Packages: []string{"z", "hard"}}, ErrUnsatisfiable, "x 1 conflicts with z 1 (z)")
	wantError(t, u, Request{Packages: []string{"zz", "hard"}}, ErrUnsatisfiable,
		"hard 1 depends on x, x: x 1: it conflicts with zz 1 (x), which must be installed")
	// The same when the conflict is declared by a package already selected
	// (apt would leave this to its problem resolver). w is not protected:
	// b could have had w2.
	wantSet(t, resolve(t, u, Request{Packages: []string{"b", "a"}}), "a 1", "b 1", "w 1", "y 1")
}

func TestMultiArch(t *testing.T) {
	u := universe(t,
		pkg("script", "1", "Depends: perl:any, awk:any"),
		pkg("perl", "1", "Multi-Arch: allowed"),
		pkg("foreignawk", "1", "Provides: awk", "Multi-Arch: foreign", "Priority: required"),
		pkg("allowedawk", "1", "Provides: awk", "Multi-Arch: allowed", "Priority: optional"),
		pkg("notallowed", "1", "Depends: python3:any"),
		pkg("python3", "1", "Multi-Arch: foreign"),
		allPkg("indep", "1", "Depends: perl, libfoo:amd64"),
		pkg("libfoo", "1", "Multi-Arch: same"),
		pkg("otherarch", "1", "Depends: libfoo:arm64"))
	// ":any" is met only by Multi-Arch: allowed packages and providers.
	wantSet(t, resolve(t, u, Request{Packages: []string{"script"}}), "script 1", "perl 1", "allowedawk 1")
	wantError(t, u, Request{Packages: []string{"notallowed"}}, ErrUnsatisfiable, "python3:any", "not Multi-Arch: allowed")
	// Architecture: all counts as the native architecture; an explicit
	// native qualifier is met, a foreign one is not.
	wantSet(t, resolve(t, u, Request{Packages: []string{"indep"}}), "indep 1", "perl 1", "libfoo 1")
	wantError(t, u, Request{Packages: []string{"otherarch"}}, ErrUnsatisfiable, "libfoo:arm64")
}

func TestVariants(t *testing.T) {
	u := universe(t,
		pkg("ess", "1", "Essential: yes", "Priority: required", "Depends: esslib"),
		pkg("esslib", "1", "Priority: optional"),
		pkg("req", "1", "Priority: required", "Depends: reqlib"),
		pkg("reqlib", "1", "Priority: optional"),
		pkg("apt", "1", "Priority: important"),
		pkg("imp", "1", "Priority: important"),
		pkg("user", "1"))
	tests := []struct {
		variant Variant
		want    []string
		ess     int
		auto    []string // pulled in as dependencies in the second phase
	}{
		{VariantNone, []string{"user 1"}, 0, nil},
		{"", []string{"user 1"}, 0, nil},
		{VariantEssential, []string{"ess 1", "esslib 1", "user 1"}, 2, nil},
		{VariantMinbase, []string{"ess 1", "esslib 1", "apt 1", "req 1", "reqlib 1", "user 1"}, 2, []string{"reqlib"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.variant), func(t *testing.T) {
			r, err := u.Resolve(Request{Variant: tt.variant, Packages: []string{"user"}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.Packages {
				got = append(got, p.Package+" "+p.Version)
			}
			wantSet(t, got, tt.want...)
			if r.Essential != tt.ess {
				t.Errorf("Essential = %d, want %d", r.Essential, tt.ess)
			}
			var auto []string
			for name := range r.Auto {
				auto = append(auto, name)
			}
			if !slices.Equal(sorted(auto), tt.auto) {
				t.Errorf("Auto = %v, want %v (apt, Priority: required and the request are asked for)", sorted(auto), tt.auto)
			}
			for i, p := range r.Packages {
				inEssential := p.Package == "ess" || p.Package == "esslib"
				if inEssential != (i < r.Essential) {
					t.Errorf("%s at %d: the essential set is the first %d packages", p.Package, i, r.Essential)
				}
			}
		})
	}
	wantError(t, u, Request{Variant: "buildd"}, ErrBadRequest, "buildd", "minbase")
}

func TestExclude(t *testing.T) {
	u := universe(t,
		pkg("a", "1", "Depends: x | y"),
		pkg("hard", "1", "Depends: x"), pkg("zz", "1", "Conflicts: x"),
		pkg("x", "1"), pkg("y", "1"), pkg("v1", "1", "Provides: v, w"), pkg("v2", "1", "Provides: w"),
		pkg("ess", "1", "Essential: yes"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"a"}, Exclude: []string{"x"}}), "a 1", "y 1")
	wantError(t, u, Request{Packages: []string{"hard"}, Exclude: []string{"x"}}, ErrUnsatisfiable, "hard 1 depends on x, x: x 1: it is excluded")
	wantError(t, u, Request{Packages: []string{"a"}, Exclude: []string{"a"}}, ErrBadRequest, "both requested and excluded")
	wantError(t, u, Request{Packages: []string{"a"}, Exclude: []string{"xx"}}, ErrUnknownPackage, "xx")
	// A virtual name stands for its only provider, as on apt-get's command
	// line; with several it is ambiguous.
	wantSet(t, resolve(t, u, Request{Packages: []string{"a"}, Exclude: []string{"v"}}), "a 1", "x 1")
	wantError(t, u, Request{Packages: []string{"v1"}, Exclude: []string{"v"}}, ErrBadRequest, "v1: bad package request: both requested and excluded")
	wantError(t, u, Request{Packages: []string{"a"}, Exclude: []string{"w"}}, ErrBadRequest, "virtual", "v1, v2")
	wantSet(t, resolve(t, u, Request{Variant: VariantEssential, Exclude: []string{"ess"}}))
}

func TestUnknownPackageNamesCloseMatches(t *testing.T) {
	u := universe(t, pkg("systemd", "1"), pkg("systemd-sysv", "1"), pkg("sysvinit", "1"), pkg("udev", "1"), pkg("v1", "1", "Provides: systemdd"))
	wantError(t, u, Request{Packages: []string{"systemmd"}}, ErrUnknownPackage, `systemmd`, "close matches: systemd, systemdd")
	wantError(t, u, Request{Packages: []string{"Bad_Name"}}, ErrBadRequest, "not a package name")
}

func TestVirtualRequest(t *testing.T) {
	u := universe(t, pkg("p1", "1", "Provides: one"), pkg("p2", "1", "Provides: two"), pkg("p3", "1", "Provides: two"))
	wantSet(t, resolve(t, u, Request{Packages: []string{"one"}}), "p1 1")
	wantError(t, u, Request{Packages: []string{"two"}}, ErrBadRequest, "two", "p2, p3")
}

func TestUnsatisfiableNamesTheChain(t *testing.T) {
	u := universe(t,
		pkg("top", "1", "Depends: mid"),
		pkg("mid", "2", "Depends: leaf (>= 3) | other"),
		pkg("leaf", "2.9"))
	wantError(t, u, Request{Packages: []string{"top"}}, ErrUnsatisfiable,
		"top 1 depends on mid, mid 2 depends on leaf (>= 3) | other, leaf (>= 3): the archive has only leaf 2.9; other is not in the archive")
	// One line: the first two problems, then how many more.
	many := universe(t, pkg("three", "1", "Depends: n1, n2, n3"))
	wantError(t, many, Request{Packages: []string{"three"}}, ErrUnsatisfiable, "n1 is not in the archive", "n2 is not in the archive", "; and 1 more")
}

func TestSameInputSameOutput(t *testing.T) {
	entries := []entry{
		pkg("a", "1", "Depends: v, c | d"), pkg("b", "1", "Provides: v"), pkg("c", "1", "Depends: a"),
		pkg("d", "1"), pkg("e", "1", "Provides: v", "Depends: a"), pkg("ess", "1", "Essential: yes", "Depends: b"),
	}
	want := resolve(t, universe(t, entries...), Request{Variant: VariantMinbase, Packages: []string{"a", "e"}})
	for i := 0; i < 5; i++ {
		got := resolve(t, universe(t, entries...), Request{Variant: VariantMinbase, Packages: []string{"a", "e"}})
		if !slicesEqual(got, want) {
			t.Fatalf("run %d: %v, first run %v", i, got, want)
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConflictUnmarksAndTheDependentIsMended(t *testing.T) {
	u := universe(t,
		pkg("a", "1", "Depends: x | y"),
		pkg("b", "1", "Depends: z"),
		pkg("x", "1"), pkg("y", "1"),
		pkg("z", "1", "Conflicts: x"))
	// a takes x; z then unmarks x (apt's MarkInstall does), which leaves a
	// without its dependency until the resolver installs y.
	wantSet(t, resolve(t, u, Request{Packages: []string{"a", "b"}}), "a 1", "b 1", "y 1", "z 1")
}
