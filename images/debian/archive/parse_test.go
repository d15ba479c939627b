package archive

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParsePackagesTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/packages/*.txt")
	if err != nil || len(files) < 2 {
		t.Fatalf("testdata missing: %v", err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := ParsePackages(bytes.NewReader(data), func(f string) string { return "http://mirror.invalid/debian/" + f })
			if strings.HasPrefix(filepath.Base(name), "bad-") {
				if !errors.Is(err, ErrBadIndex) {
					t.Fatalf("ParsePackages error = %v, want ErrBadIndex", err)
				}
				return
			}
			if err != nil || len(pkgs) != 1 {
				t.Fatalf("ParsePackages = %v, %v", pkgs, err)
			}
			if pkgs[0].Size != 10 || pkgs[0].URL != "http://mirror.invalid/debian/pool/main/a/a_1_amd64.deb" {
				t.Errorf("package = %+v", pkgs[0])
			}
		})
	}
}

func TestParseRelease(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	good := "Suite: stable\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nAcquire-By-Hash: yes\n" +
		"Architectures: amd64 arm64\nComponents: main\nSHA256:\n " + sum + " 42 main/binary-amd64/Packages.xz\n"
	r, err := ParseRelease([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !r.AcquireByHash || !r.HasArch("arm64") || r.Files["main/binary-amd64/Packages.xz"] != (FileSum{42, sum}) {
		t.Errorf("ParseRelease = %+v", r)
	}
	if want := time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC); !r.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", r.Date, want)
	}
	bad := map[string]string{
		"no date":     strings.Replace(good, "Date: Sat, 11 Jul 2026 10:16:37 UTC\n", "", 1),
		"bad date":    strings.Replace(good, "Sat, 11 Jul 2026", "yesterday", 1),
		"bad digest":  strings.Replace(good, sum, "xyz", 1),
		"bad size":    strings.Replace(good, " 42 ", " -4 ", 1),
		"no sums":     strings.Replace(good, "SHA256:\n "+sum+" 42 main/binary-amd64/Packages.xz\n", "", 1),
		"two records": good + "\nSuite: x\n",
		"bad syntax":  " " + good,
	}
	for name, text := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseRelease([]byte(text)); !errors.Is(err, ErrBadRelease) {
				t.Errorf("ParseRelease error = %v, want ErrBadRelease", err)
			}
		})
	}
}

// FuzzParsePackages checks that every accepted entry is safe to use (a
// clean pool path, a digest, a size, a valid name and version) and that
// it reads back the same when written out again.
func FuzzParsePackages(f *testing.F) {
	f.Add("Package: a\nVersion: 1\n")
	f.Add("Package: a\nVersion: 1:2.0-1\nArchitecture: all\nDepends: b (>= 1) | c\nProvides: d (= 2)\nMulti-Arch: foreign\n" +
		"Essential: yes\nPriority: required\nFilename: pool/a.deb\nSize: 3\nSHA256: " + strings.Repeat("0", 64) + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		pkgs, err := ParsePackages(strings.NewReader(in), nil)
		if err != nil {
			if !errors.Is(err, ErrBadIndex) {
				t.Fatalf("error outside ErrBadIndex: %v", err)
			}
			return
		}
		for _, p := range pkgs {
			if !safePoolPath(p.Filename) || !ValidSHA256(p.SHA256) || p.Size <= 0 ||
				!ValidPackageName(p.Package) || p.Ver.String() == "" {
				t.Fatalf("accepted unsafe entry %+v", p)
			}
		}
		again, err := ParsePackages(strings.NewReader(writePackages(pkgs)), nil)
		if err != nil {
			t.Fatalf("re-reading %q: %v", writePackages(pkgs), err)
		}
		if diff := cmp.Diff(pkgs, again); diff != "" {
			t.Fatalf("round trip of %q changed (-first +again):\n%s", in, diff)
		}
	})
}

// writePackages formats entries as a Packages file, with the fields
// ParsePackages reads.
func writePackages(pkgs []Package) string {
	var b strings.Builder
	yes := map[bool]string{true: "yes", false: "no"}
	for _, p := range pkgs {
		fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: %s\nFilename: %s\nSize: %d\nSHA256: %s\n",
			p.Package, p.Version, p.Architecture, p.Filename, p.Size, p.SHA256)
		fmt.Fprintf(&b, "Essential: %s\nImportant: %s\n", yes[p.Essential], yes[p.Important])
		for _, f := range [][2]string{{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}, {"Conflicts", p.Conflicts},
			{"Breaks", p.Breaks}, {"Provides", p.Provides}, {"Recommends", p.Recommends}, {"Suggests", p.Suggests},
			{"Replaces", p.Replaces}, {"Enhances", p.Enhances}, {"Multi-Arch", p.MultiArch}, {"Priority", p.Priority}} {
			if f[1] != "" {
				b.WriteString(f[0] + ": " + strings.ReplaceAll(f[1], "\n", "\n ") + "\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// FuzzParseRelease checks that every accepted index entry is usable and
// that the signed fields read back the same when written out again.
func FuzzParseRelease(f *testing.F) {
	f.Add("Date: Sat, 11 Jul 2026 10:16:37 UTC\n")
	f.Add("Suite: stable\nCodename: trixie\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\n" +
		"Acquire-By-Hash: yes\nArchitectures: amd64 arm64\nComponents: main\nSHA256:\n " + strings.Repeat("a", 64) + " 1 main/x\n")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseRelease([]byte(in))
		if err != nil {
			if !errors.Is(err, ErrBadRelease) {
				t.Fatalf("error outside ErrBadRelease: %v", err)
			}
			return
		}
		for name, s := range r.Files {
			if !ValidSHA256(s.SHA256) || s.Size < 0 || name == "" {
				t.Fatalf("accepted bad entry %q %+v", name, s)
			}
		}
		again, err := ParseRelease([]byte(writeRelease(r)))
		if err != nil {
			t.Fatalf("re-reading %q: %v", writeRelease(r), err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Fatalf("round trip of %q changed (-first +again):\n%s", in, diff)
		}
	})
}

// writeRelease formats the fields ParseRelease reads.
func writeRelease(r *Release) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Suite: %s\nCodename: %s\nDate: %s\n", r.Suite, r.Codename, r.Date.Format(time.RFC1123Z))
	if !r.ValidUntil.IsZero() {
		fmt.Fprintf(&b, "Valid-Until: %s\n", r.ValidUntil.Format(time.RFC1123Z))
	}
	if r.AcquireByHash {
		b.WriteString("Acquire-By-Hash: yes\n")
	}
	fmt.Fprintf(&b, "Architectures: %s\nComponents: %s\nSHA256:\n", strings.Join(r.Architectures, " "), strings.Join(r.Components, " "))
	names := slices.Sorted(maps.Keys(r.Files))
	for _, n := range names {
		fmt.Fprintf(&b, " %s %d %s\n", r.Files[n].SHA256, r.Files[n].Size, n)
	}
	return b.String()
}
