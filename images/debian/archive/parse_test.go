package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func FuzzParsePackages(f *testing.F) {
	f.Add("Package: a\nVersion: 1\n")
	f.Fuzz(func(t *testing.T, in string) {
		pkgs, err := ParsePackages(strings.NewReader(in), nil)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if !safePoolPath(p.Filename) || !ValidSHA256(p.SHA256) || p.Size <= 0 {
				t.Fatalf("accepted unsafe entry %+v", p)
			}
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	f.Add("Date: Sat, 11 Jul 2026 10:16:37 UTC\n")
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
	})
}
