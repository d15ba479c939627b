package depsolve

import (
	"testing"
)

func TestInstallOrder(t *testing.T) {
	u := universe(t,
		pkg("app", "1", "Depends: lib, tool"),
		pkg("lib", "1", "Depends: base"),
		pkg("tool", "1", "Pre-Depends: lib"),
		pkg("base", "1"),
		// A cycle c -> b -> a -> c, ordered by name inside; cyc after it.
		pkg("cyc", "1", "Pre-Depends: c"),
		pkg("a", "1", "Depends: c"),
		pkg("b", "1", "Depends: a"),
		pkg("c", "1", "Depends: b"),
		pkg("ess", "1", "Essential: yes", "Depends: esslib"),
		pkg("esslib", "1"),
		pkg("zzz", "1", "Depends: ess"))
	order := resolve(t, u, Request{Packages: []string{"app"}})
	for _, dep := range [][2]string{{"base", "lib"}, {"lib", "app"}, {"tool", "app"}, {"lib", "tool"}} {
		before(t, order, dep[0], dep[1])
	}
	order = resolve(t, u, Request{Packages: []string{"cyc"}})
	if want := []string{"a 1", "b 1", "c 1", "cyc 1"}; !slicesEqual(order, want) {
		t.Errorf("cycle order = %v, want %v", order, want)
	}
	order = resolve(t, u, Request{Variant: VariantEssential, Packages: []string{"app", "zzz"}})
	before(t, order, "esslib", "ess")
	before(t, order, "ess", "base")
	before(t, order, "ess", "zzz")
}

func TestPreDependsInsideACycleIsAnError(t *testing.T) {
	u := universe(t,
		pkg("cyc", "1", "Depends: a"),
		pkg("a", "1", "Pre-Depends: c", "Depends: b"),
		pkg("b", "1", "Depends: c"),
		pkg("c", "1", "Depends: a"))
	wantError(t, u, Request{Packages: []string{"cyc"}}, ErrUnsatisfiable, "a 1 pre-depends on c 1 inside the dependency cycle a, b, c")
}
