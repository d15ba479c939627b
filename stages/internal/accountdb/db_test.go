package accountdb

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

func TestParseAndRender(t *testing.T) {
	text := "root:x:0:0:root:/root:/bin/bash\n\nu:x:1000:1000::/home/u:/bin/sh\n"
	f, err := Parse("/etc/passwd", text, 7)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Lookup("u"); e == nil || e[2] != "1000" {
		t.Errorf("Lookup = %v", e)
	}
	if e := f.LookupID(0); e == nil || e[0] != "root" {
		t.Errorf("LookupID = %v", e)
	}
	if got := f.String(); got != "root:x:0:0:root:/root:/bin/bash\nu:x:1000:1000::/home/u:/bin/sh\n" {
		t.Errorf("String = %q", got)
	}
	if _, err := Parse("/etc/passwd", "root:x:0\n", 7); !errors.Is(err, ErrMalformed) {
		t.Errorf("short line: %v", err)
	}
	if err := f.Append([]string{"a"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short entry: %v", err)
	}
}

func TestNextFreeID(t *testing.T) {
	cases := []struct {
		text     string
		min, max int
		want     int
	}{
		{"", 1000, 60000, 1000},
		{"a:x:1000:\nb:x:1005:\nc:x:65534:\n", 1000, 60000, 1006},
		{"a:x:1000:\nb:x:1002:\n", 1000, 1002, 1001},
	}
	for _, tc := range cases {
		f, err := Parse("/etc/group", tc.text, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.NextFreeID(tc.min, tc.max); err != nil || got != tc.want {
			t.Errorf("%q: %d, %v; want %d", tc.text, got, err, tc.want)
		}
	}
	full, _ := Parse("/etc/group", "a:x:1:\n", 4)
	if _, err := full.NextFreeID(1, 1); err == nil {
		t.Error("full range gave an id")
	}
}

func TestDefaultsAndResolve(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/login.defs", "# c\nUID_MIN 500\nGID_MIN\t600\nCREATE_HOME yes\nHOME_MODE 0700\n")
	write("etc/default/useradd", "SHELL=/bin/bash\n")
	write("etc/passwd", "alice:x:1001:1001::/home/alice:/bin/sh\n")
	d := LoadDefaults(api.Root(root))
	if d.UID.Min != 500 || d.GID.Min != 600 || !d.CreateHome || d.HomeMode != 0o700 || d.Shell != "/bin/bash" || d.UID.Max != 60000 {
		t.Errorf("defaults %+v", d)
	}
	if id, ok := ResolveUser(api.Root(root), "alice"); !ok || id != 1001 {
		t.Errorf("alice = %d %v", id, ok)
	}
	if id, ok := ResolveUser(api.Root(root), "42"); !ok || id != 42 {
		t.Errorf("42 = %d %v", id, ok)
	}
	if _, ok := ResolveGroup(api.Root(root), "nobody"); ok {
		t.Error("unknown group resolved")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\n", 7)
	f.Add("sudo:x:27:a,b\n", 4)
	f.Fuzz(func(t *testing.T, text string, fields int) {
		if fields < 1 || fields > 16 {
			return
		}
		db, err := Parse("/etc/x", text, fields)
		if err != nil {
			return
		}
		again, err := Parse("/etc/x", db.String(), fields)
		if err != nil || again.String() != db.String() {
			t.Fatalf("render is not stable: %v", err)
		}
	})
}
