package accounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

var ctx = context.Background()

// baseTree writes a minimal Debian-like account setup.
func baseTree(t *testing.T, args *api.Arguments) {
	t.Helper()
	stagetest.Write(t, args.Tree, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
	stagetest.Write(t, args.Tree, "etc/shadow", "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n")
	stagetest.Write(t, args.Tree, "etc/group", "root:x:0:\nsudo:x:27:\nusers:x:100:\nnogroup:x:65534:\n")
	stagetest.Write(t, args.Tree, "etc/gshadow", "root:*::\nsudo:*::\nusers:*::\nnogroup:*::\n")
	stagetest.Write(t, args.Tree, "etc/skel/.bashrc", "# bashrc\n")
}

func TestUsersAdd(t *testing.T) {
	args := stagetest.Args(t, `{"users": {
		"zoe": {"groups": ["sudo", "users"], "description": "Zoe", "home": "/home/zoe", "shell": "/bin/bash", "password": "$6$salt$hash", "key": "ssh-ed25519 AAAA zoe"},
		"adam": {"uid": 2000, "expiredate": 20000},
		"svc": {"uid": 999, "gid": 100, "home": ""}}}`)
	baseTree(t, args)
	stagetest.Epoch(args, 1700000000)
	if err := Users(ctx, args); err != nil {
		t.Fatal(err)
	}
	wantPasswd := "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" +
		"zoe:x:1000:1000:Zoe:/home/zoe:/bin/bash\nadam:x:2000:2000::/home/adam:/bin/sh\nsvc:x:999:100::/home/svc:/bin/sh\n"
	if diff := cmp.Diff(wantPasswd, stagetest.Read(t, args.Tree, "etc/passwd")); diff != "" {
		t.Errorf("passwd (-want +got):\n%s", diff)
	}
	wantShadow := "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n" +
		"zoe:$6$salt$hash:19675:0:99999:7:::\nadam:!:19675:0:99999:7::20000:\nsvc:!:19675:0:99999:7:::\n"
	if diff := cmp.Diff(wantShadow, stagetest.Read(t, args.Tree, "etc/shadow")); diff != "" {
		t.Errorf("shadow (-want +got):\n%s", diff)
	}
	wantGroup := "root:x:0:\nsudo:x:27:zoe\nusers:x:100:zoe\nnogroup:x:65534:\nzoe:x:1000:\nadam:x:2000:\n"
	if diff := cmp.Diff(wantGroup, stagetest.Read(t, args.Tree, "etc/group")); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
	if got := stagetest.Read(t, args.Tree, "etc/gshadow"); got != "root:*::\nsudo:*::zoe\nusers:*::zoe\nnogroup:*::\nzoe:!::\nadam:!::\n" {
		t.Errorf("gshadow = %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "home/zoe/.ssh/authorized_keys"); got != "ssh-ed25519 AAAA zoe\n" {
		t.Errorf("authorized_keys = %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "home/zoe/.bashrc"); got != "# bashrc\n" {
		t.Errorf("skel not copied: %q", got)
	}
	for _, p := range []string{"home/adam", "home/svc"} {
		if _, err := os.Stat(filepath.Join(args.Tree, p)); err == nil {
			t.Errorf("%s created without being asked", p)
		}
	}
	checkOwner(t, filepath.Join(args.Tree, "home/zoe/.ssh/authorized_keys"), 1000, 1000, 0o600)
}

func checkOwner(t *testing.T, p string, uid, gid uint32, perm os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != perm {
		t.Errorf("%s: mode %o, want %o", p, fi.Mode().Perm(), perm)
	}
	if os.Geteuid() != 0 {
		t.Skip("owners need root to check; CI runs as root")
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
	}
}

func TestUsersModify(t *testing.T) {
	args := stagetest.Args(t, `{"users": {"root": {"password": "$6$new", "shell": "/bin/zsh", "groups": ["users"], "force_password_reset": true}}}`)
	baseTree(t, args)
	stagetest.Write(t, args.Tree, "etc/group", "root:x:0:\nsudo:x:27:root\nusers:x:100:\n")
	if err := Users(ctx, args); err != nil {
		t.Fatal(err)
	}
	if got := stagetest.Read(t, args.Tree, "etc/passwd"); got[:len("root:x:0:0:root:/root:/bin/zsh\n")] != "root:x:0:0:root:/root:/bin/zsh\n" {
		t.Errorf("passwd = %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "etc/shadow"); got[:len("root:$6$new:0:")] != "root:$6$new:0:" {
		t.Errorf("shadow = %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "etc/group"); got != "root:x:0:\nsudo:x:27:\nusers:x:100:root\n" {
		t.Errorf("group membership not replaced: %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "root/.bashrc"); got != "# bashrc\n" {
		t.Errorf("missing home of an existing user not made from skel: %q", got)
	}
}

func TestUsersRejects(t *testing.T) {
	cases := map[string]struct {
		opts string
		want error
	}{
		"uid change":    {`{"users": {"root": {"uid": 5}}}`, ErrConflict},
		"missing group": {`{"users": {"u": {"groups": ["nope"]}}}`, ErrNotFound},
		"missing gid":   {`{"users": {"u": {"gid": 4242}}}`, ErrNotFound},
		"colon":         {`{"users": {"u": {"description": "a:b"}}}`, ErrInvalidValue},
		"newline":       {`{"users": {"u": {"shell": "/bin/sh\nroot::0:0::/:/bin/sh"}}}`, ErrInvalidValue},
		"group exists":  {`{"users": {"sudo": {}}}`, ErrConflict},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := stagetest.Args(t, tc.opts)
			baseTree(t, args)
			if err := Users(ctx, args); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	args := stagetest.Args(t, `{"groups": {"zeta": {}, "alpha": {"gid": 1500}, "beta": {}}}`)
	baseTree(t, args)
	if err := Groups(ctx, args); err != nil {
		t.Fatal(err)
	}
	want := "root:x:0:\nsudo:x:27:\nusers:x:100:\nnogroup:x:65534:\nzeta:x:1000:\nalpha:x:1500:\nbeta:x:1501:\n"
	if diff := cmp.Diff(want, stagetest.Read(t, args.Tree, "etc/group")); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
	cases := map[string]struct {
		opts string
		want error
	}{
		"exists":         {`{"groups": {"sudo": {}}}`, ErrConflict},
		"gid taken":      {`{"groups": {"new": {"gid": 27}}}`, ErrConflict},
		"force exists":   {`{"groups": {"sudo": {}}, "force": true}`, nil},
		"force gid":      {`{"groups": {"new": {"gid": 27}}, "force": true}`, nil},
		"bad name field": {`{"groups": {"a:b": {}}}`, ErrInvalidValue},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := stagetest.Args(t, tc.opts)
			baseTree(t, args)
			if err := Groups(ctx, args); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEmptyTreeGetsDatabases(t *testing.T) {
	args := stagetest.Args(t, `{"users": {"u": {}}}`)
	if err := Users(ctx, args); err != nil {
		t.Fatal(err)
	}
	if got := stagetest.Read(t, args.Tree, "etc/passwd"); got != "u:x:1000:1000::/home/u:/bin/sh\n" {
		t.Errorf("passwd = %q", got)
	}
	if got := stagetest.Read(t, args.Tree, "etc/shadow"); got != "u:!::0:99999:7:::\n" {
		t.Errorf("shadow without SOURCE_DATE_EPOCH = %q", got)
	}
}

func TestEscape(t *testing.T) {
	args := stagetest.Args(t, `{"users": {"u": {"home": "/home/u", "key": "k"}}}`)
	outside, check := stagetest.Outside(t, args)
	stagetest.Symlink(t, args.Tree, "etc", outside)
	stagetest.Symlink(t, args.Tree, "home", outside)
	if err := Users(ctx, args); err != nil {
		t.Logf("failed inside the tree: %v", err)
	}
	check()
}
