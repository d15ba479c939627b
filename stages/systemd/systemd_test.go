package systemd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

var ctx = context.Background()

func unitTree(t *testing.T, args *api.Arguments) {
	t.Helper()
	units := map[string]string{
		"sshd.service":      "[Unit]\nDescription=ssh\n[Install]\nWantedBy=multi-user.target\nAlias=ssh.service\nAlso=sshd.socket\n",
		"sshd.socket":       "[Socket]\nListenStream=22\n[Install]\nWantedBy=sockets.target\n",
		"getty@.service":    "[Service]\nExecStart=/sbin/agetty\n[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n",
		"static.service":    "[Service]\nExecStart=/bin/true\n",
		"multi.service":     "[Install]\nWantedBy=a.target \\\n  b.target\nRequiredBy=c.target\nWantedBy=\nWantedBy=d.target\n",
		"multi-user.target": "[Unit]\nDescription=Multi-User\n",
		"graphical.target":  "[Unit]\nDescription=Graphical\n",
		"spec@.service":     "[Install]\nWantedBy=%p-%i.target\n",
	}
	for name, text := range units {
		stagetest.Write(t, args.Tree, "usr/lib/systemd/system/"+name, text)
	}
}

func links(t *testing.T, tree string) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := filepath.Join(tree, "etc/systemd")
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			rel, _ := filepath.Rel(root, p)
			out[rel] = target
		}
		return nil
	})
	return out
}

func TestEnable(t *testing.T) {
	args := stagetest.Args(t, `{"enabled_services": ["sshd.service", "getty@.service", "getty@tty2.service", "static.service", "multi.service", "spec@x.service"],
		"masked_services": ["systemd-resolved.service"], "masked_generators": ["systemd-gpt-auto-generator"], "default_target": "graphical.target"}`)
	unitTree(t, args)
	if err := Systemd(ctx, args); err != nil {
		t.Fatal(err)
	}
	const u = "/usr/lib/systemd/system/"
	want := map[string]string{
		"system/multi-user.target.wants/sshd.service":  u + "sshd.service",
		"system/ssh.service":                           u + "sshd.service",
		"system/sockets.target.wants/sshd.socket":      u + "sshd.socket",
		"system/getty.target.wants/getty@tty1.service": u + "getty@.service",
		"system/getty.target.wants/getty@tty2.service": u + "getty@.service",
		"system/d.target.wants/multi.service":          u + "multi.service",
		"system/c.target.requires/multi.service":       u + "multi.service",
		"system/spec-x.target.wants/spec@x.service":    u + "spec@.service",
		"system/systemd-resolved.service":              "/dev/null",
		"system-generators/systemd-gpt-auto-generator": "/dev/null",
		"system/default.target":                        u + "graphical.target",
	}
	if diff := cmp.Diff(want, links(t, args.Tree)); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}

func TestDisableAndUnmask(t *testing.T) {
	args := stagetest.Args(t, `{"enabled_services": ["sshd.service", "getty@.service"]}`)
	unitTree(t, args)
	if err := Systemd(ctx, args); err != nil {
		t.Fatal(err)
	}
	args.Options = []byte(`{"disabled_services": ["sshd.service"], "masked_services": ["static.service"]}`)
	if err := Systemd(ctx, args); err != nil {
		t.Fatal(err)
	}
	args.Options = []byte(`{"unmasked_services": ["static.service"]}`)
	if err := Systemd(ctx, args); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"system/getty.target.wants/getty@tty1.service": "/usr/lib/systemd/system/getty@.service"}
	if diff := cmp.Diff(want, links(t, args.Tree)); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}

func TestSystemdRejects(t *testing.T) {
	cases := map[string]struct {
		opts string
		want error
	}{
		"missing unit":   {`{"enabled_services": ["nope.service"]}`, ErrUnitNotFound},
		"missing target": {`{"default_target": "nope.target"}`, ErrUnitNotFound},
		"slash":          {`{"masked_services": ["../../x"]}`, ErrInvalidUnit},
		"generator":      {`{"masked_generators": ["a/b"]}`, ErrInvalidUnit},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := stagetest.Args(t, tc.opts)
			unitTree(t, args)
			if err := Systemd(ctx, args); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMaskRefusesUnitFile(t *testing.T) {
	args := stagetest.Args(t, `{"masked_services": ["local.service"]}`)
	stagetest.Write(t, args.Tree, "etc/systemd/system/local.service", "[Service]\n")
	if err := Systemd(ctx, args); err == nil {
		t.Error("masking over a unit file succeeded")
	}
}

func TestUnitCreate(t *testing.T) {
	args := stagetest.Args(t, `{"filename": "hello.service", "unit-path": "etc", "config": {
		"Unit": {"Description": "Hello", "Wants": ["network.target", "b.target"], "DefaultDependencies": false},
		"Service": {"Type": "oneshot", "RemainAfterExit": true, "ExecStart": ["/bin/echo hi"], "Environment": [{"key": "A", "value": "1 2"}]},
		"Install": {"WantedBy": ["multi-user.target"]}}}`)
	if err := UnitCreate(ctx, args); err != nil {
		t.Fatal(err)
	}
	want := "[Unit]\nDescription=Hello\nWants=network.target\nWants=b.target\nDefaultDependencies=False\n\n" +
		"[Service]\nType=oneshot\nRemainAfterExit=True\nExecStart=/bin/echo hi\nEnvironment=\"A=1 2\"\n\n" +
		"[Install]\nWantedBy=multi-user.target\n\n"
	if diff := cmp.Diff(want, stagetest.Read(t, args.Tree, "etc/systemd/system/hello.service")); diff != "" {
		t.Errorf("unit (-want +got):\n%s", diff)
	}
	user := stagetest.Args(t, `{"filename": "x.mount", "unit-type": "global", "config": {"Mount": {"What": "/dev/vdb", "Where": "/x"}}}`)
	if err := UnitCreate(ctx, user); err != nil {
		t.Fatal(err)
	}
	if got := stagetest.Read(t, user.Tree, "usr/lib/systemd/user/x.mount"); got != "[Mount]\nWhat=/dev/vdb\nWhere=/x\n\n" {
		t.Errorf("mount unit = %q", got)
	}
	bad := stagetest.Args(t, `{"filename": "x.service", "config": {"Mount": {"What": "a", "Where": "b"}}}`)
	if err := UnitCreate(ctx, bad); !errors.Is(err, ErrInvalidUnit) {
		t.Errorf("service without Service section: %v", err)
	}
}

func TestParseInstall(t *testing.T) {
	got := parseInstall("[Unit]\nWantedBy=ignored.target\n[Install]\n# c\nWantedBy=a.target b.target\nAlias=x.service\nAlso=y.service \\\n z.service\nDefaultInstance=i\n")
	want := installSection{WantedBy: []string{"a.target", "b.target"}, Alias: []string{"x.service"}, Also: []string{"y.service", "z.service"}, DefaultInstance: "i"}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(installSection{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzParseInstall(f *testing.F) {
	f.Add("[Install]\nWantedBy=a.target\nAlias=b.service\n")
	f.Add("[Install]\nAlso=x \\\n y\n")
	f.Fuzz(func(t *testing.T, text string) {
		s := parseInstall(text)
		for _, w := range append(s.WantedBy, s.Alias...) {
			if w == "" {
				t.Fatal("empty word")
			}
		}
	})
}

func TestEscape(t *testing.T) {
	args := stagetest.Args(t, `{"enabled_services": ["sshd.service"], "masked_services": ["x.service"], "default_target": "multi-user.target"}`)
	unitTree(t, args)
	outside, check := stagetest.Outside(t, args)
	stagetest.Symlink(t, args.Tree, "etc", outside)
	if err := Systemd(ctx, args); err != nil {
		t.Fatal(err)
	}
	check()
}
