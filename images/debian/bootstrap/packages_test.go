package bootstrap

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mk builds a package from "name pre=a|b,c dep=d prov=v ess".
func mk(spec string) *Package {
	f := strings.Fields(spec)
	p := &Package{Name: f[0]}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "pre":
			p.PreDepends = relationNames(v)
		case "dep":
			p.Depends = relationNames(v)
		case "prov":
			p.Provides = strings.Split(v, ",")
		case "ess":
			p.Essential = true
		}
	}
	return p
}

func pkgNames(ps []*Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestRelationNames(t *testing.T) {
	got := relationNames("libc6 (>= 2.38), awk | mawk:any, foo [amd64] <!nocheck>, bar (<< 2) | baz")
	want := [][]string{{"libc6"}, {"awk", "mawk"}, {"foo"}, {"bar", "baz"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
}

func TestEssentialSet(t *testing.T) {
	pkgs := []*Package{
		mk("libc6"), mk("mawk prov=awk dep=libc6"), mk("apt dep=libc6"),
		mk("base-files ess pre=awk"), mk("dash ess dep=debianutils"), mk("debianutils dep=libc6"),
		mk("unrelated dep=libc6"),
	}
	got := pkgNames(EssentialSet(pkgs))
	want := []string{"libc6", "mawk", "base-files", "dash", "debianutils"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("essential set (-want +got):\n%s", d)
	}
}

func TestChoosePrefersFirstAlternativeInSet(t *testing.T) {
	s := newPkgSet([]*Package{mk("b"), mk("c prov=a")})
	if got := s.choose([]string{"x", "a", "b"}); got == nil || got.Name != "c" {
		t.Errorf("choose = %v, want c (provides a, the first satisfiable alternative)", got)
	}
	if got := s.choose([]string{"x"}); got != nil {
		t.Errorf("choose of an absent package = %v", got.Name)
	}
}

func planString(runs []DpkgRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, strings.TrimSpace(r.Action+" "+strings.Join(pkgNames(r.Packages), " ")))
	}
	return out
}

// TestInstallPlan: unpacks in order; a package whose Pre-Depends is only
// unpacked gets it (and its dependencies) configured first; everything
// else is configured by one final --configure --pending, as apt does.
func TestInstallPlan(t *testing.T) {
	pkgs := []*Package{
		mk("liba"), mk("login.defs dep=liba"), mk("tzdata"), mk("login pre=login.defs dep=libpam"),
		mk("libpam"), mk("apt dep=liba"),
	}
	runs, err := InstallPlan(pkgs, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--unpack liba login.defs tzdata",
		"--configure liba login.defs",
		"--unpack login libpam apt",
		"--configure --pending",
	}
	if d := cmp.Diff(want, planString(runs)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
}

func TestInstallPlanConfiguredAlready(t *testing.T) {
	pkgs := []*Package{mk("login pre=login.defs"), mk("apt")}
	runs, err := InstallPlan(pkgs, func(n string) bool { return n == "login.defs" })
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"--unpack login apt", "--configure --pending"}, planString(runs)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
}

func TestInstallPlanPreDependsOutOfOrder(t *testing.T) {
	pkgs := []*Package{mk("login pre=login.defs"), mk("login.defs")}
	if _, err := InstallPlan(pkgs, func(string) bool { return false }); err == nil || !strings.Contains(err.Error(), "comes after it") {
		t.Errorf("err = %v, want the order refused", err)
	}
}
