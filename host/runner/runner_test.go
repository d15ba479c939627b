package runner

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// fakeGuest serves tree.save with save, on host paths (the shares map
// every directory onto itself).
func fakeGuest(t *testing.T, save func(to string) error) *jsoncomm.Client {
	t.Helper()
	h, g := net.Pipe()
	srv := jsoncomm.NewServer()
	srv.Handle(jsoncomm.MethodTreeSave, func(ctx context.Context, p json.RawMessage, log func(jsoncomm.Log)) (any, error) {
		var in jsoncomm.TreeSaveParams
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		return jsoncomm.TreeInfo{Tree: in.Tree}, save(in.To)
	})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Serve(ctx, g, jsoncomm.Hello{})
	c, err := jsoncomm.NewClient(ctx, h, jsoncomm.Hello{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cancel() })
	return c
}

func newTestRunner(t *testing.T, save func(to string) error) (*Runner, string, string) {
	run := t.TempDir()
	out := filepath.Join(run, "vm-out")
	os.Mkdir(out, 0o700)
	shares := []Share{{HostDir: run, GuestDir: run}, {HostDir: out, GuestDir: out}}
	return New(fakeGuest(t, save), shares, out, nil), run, out
}

func TestSaveTreeMovesArchiveOutOfReach(t *testing.T) {
	r, run, out := newTestRunner(t, func(to string) error { return os.WriteFile(to, []byte("tar"), 0o644) })
	dest := filepath.Join(run, "pending", "tree.tar")
	os.Mkdir(filepath.Dir(dest), 0o700)
	if err := r.SaveTree(context.Background(), "t", dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "tar" {
		t.Fatalf("archive = %q", b)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Fatalf("left in the out share: %v", left)
	}
}

func TestSaveTreeRefusesSymlink(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("host secret"), 0o600)
	r, run, _ := newTestRunner(t, func(to string) error { return os.Symlink(secret, to) })
	dest := filepath.Join(run, "tree.tar")
	err := r.SaveTree(context.Background(), "t", dest)
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("err = %v, want ErrUntrusted", err)
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the symlink was kept")
	}
}

func TestGuestPathPicksInnermostShare(t *testing.T) {
	r := New(nil, []Share{{HostDir: "/s/run", GuestDir: "/g/run"}, {HostDir: "/s/run/vm-out", GuestDir: "/g/out"}}, "/s/run/vm-out", nil)
	cases := map[string]string{"/s/run/x": "/g/run/x", "/s/run/vm-out/y": "/g/out/y"}
	for host, want := range cases {
		if got, err := r.guestPath(host); err != nil || got != want {
			t.Errorf("guestPath(%s) = %s, %v; want %s", host, got, err, want)
		}
	}
	if _, err := r.guestPath("/elsewhere"); !errors.Is(err, ErrNotShared) {
		t.Errorf("unshared path: %v", err)
	}
}

func TestIsObject(t *testing.T) {
	for raw, want := range map[string]bool{`{"a": 1}`: true, `null`: true, `[1]`: false, `"x"`: false, `{`: false} {
		if got := isObject(json.RawMessage(raw)); got != want {
			t.Errorf("isObject(%s) = %v", raw, got)
		}
	}
}
