package deb

import (
	"context"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

func TestAptSources(t *testing.T) {
	args := stagetest.Args(t, `{
		"sources": [{"filename": "debian", "types": ["deb"], "uris": ["http://mirror.example/debian"],
			"suites": ["trixie", "trixie-updates"], "components": ["main"],
			"signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg"}],
		"config": [{"filename": "99osbuild", "options": {"Acquire::Languages": "none", "APT::Install-Recommends": "false"}}]}`)
	if err := AptSources(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	want := "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie trixie-updates\nComponents: main\n" +
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	if got := stagetest.Read(t, args.Tree, "etc/apt/sources.list.d/debian.sources"); got != want {
		t.Errorf("sources = %q, want %q", got, want)
	}
	wantConf := "APT::Install-Recommends \"false\";\nAcquire::Languages \"none\";\n"
	if got := stagetest.Read(t, args.Tree, "etc/apt/apt.conf.d/99osbuild"); got != wantConf {
		t.Errorf("config = %q, want %q", got, wantConf)
	}
}

func TestAptSourcesRefusesPathNames(t *testing.T) {
	for _, opts := range []string{
		`{"sources": [{"filename": "../../etc/passwd", "types": ["deb"], "uris": ["http://x"], "suites": ["s"]}]}`,
		`{"config": [{"filename": "a/b", "options": {}}]}`,
	} {
		args := stagetest.Args(t, opts)
		if err := AptSources(context.Background(), args); err == nil {
			t.Errorf("%s accepted", opts)
		}
	}
}

func TestAptSourcesStaysInTree(t *testing.T) {
	args := stagetest.Args(t, `{"sources": [{"filename": "d", "types": ["deb"], "uris": ["http://x"], "suites": ["s"]}]}`)
	outside, check := stagetest.Outside(t, args)
	stagetest.Symlink(t, args.Tree, "etc/apt/sources.list.d", outside)
	AptSources(context.Background(), args)
	check()
}
