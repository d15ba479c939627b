package archive

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1:0.9", "2.0", 1},
		{"6.1.176-1", "6.1.158-1", 1},
		{"1.0-1", "1.0-1~bpo1", 1},
		{"1.0a", "1.0", 1},
		{"1.0-2", "1.0-10", -1},
		{"00012", "12", 0},
		{"1.2.3", "1.2.3.0", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			if got := CompareVersions(tt.a, tt.b); got != tt.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := CompareVersions(tt.b, tt.a); got != -tt.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func TestParseRelationsAndNewest(t *testing.T) {
	groups := ParseRelations("linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1), libc6:any (>= 2.34) | musl [amd64], foo <!nocheck>")
	if len(groups) != 3 || len(groups[1]) != 2 {
		t.Fatalf("ParseRelations groups = %+v", groups)
	}
	want := Relation{Name: "linux-image-6.1.0-50-cloud-amd64", Op: "=", Version: "6.1.176-1"}
	if groups[0][0] != want {
		t.Errorf("first relation = %+v, want %+v", groups[0][0], want)
	}
	if groups[1][0].Name != "libc6" || groups[1][1].Name != "musl" || groups[2][0].Name != "foo" {
		t.Errorf("names not cleaned: %+v", groups)
	}
	pkgs := []Package{{Package: "a", Version: "1.0"}, {Package: "a", Version: "1.10"}, {Package: "a", Version: "1.9"}, {Package: "b", Version: "9"}}
	if p, ok := Newest(pkgs, Relation{Name: "a"}); !ok || p.Version != "1.10" {
		t.Errorf("Newest(a) = %+v %v, want 1.10", p, ok)
	}
	if p, ok := Newest(pkgs, Relation{Name: "a", Op: "<<", Version: "1.10"}); !ok || p.Version != "1.9" {
		t.Errorf("Newest(a << 1.10) = %+v %v, want 1.9", p, ok)
	}
	if _, ok := Newest(pkgs, Relation{Name: "c"}); ok {
		t.Error("Newest found a package that does not exist")
	}
}
