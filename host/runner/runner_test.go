package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
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

// TestSaveTreeOutOfGuestReach: a guest that keeps a write handle on the
// archive it saved, and a hard link to it in its share, cannot change what
// the host got once SaveTree returned; the guest's file is gone from the
// share.
func TestSaveTreeOutOfGuestReach(t *testing.T) {
	var handle *os.File
	r, _, out := newTestRunner(t, func(to string) error {
		f, err := os.Create(to)
		if err != nil {
			return err
		}
		handle = f
		if _, err := f.WriteString("the tree"); err != nil {
			return err
		}
		return os.Link(to, filepath.Join(filepath.Dir(to), "keep"))
	})
	t.Cleanup(func() { handle.Close() })
	dest, err := os.Create(filepath.Join(t.TempDir(), "tree.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	if err := r.SaveTree(context.Background(), "t", dest); err != nil {
		t.Fatal(err)
	}
	if _, err := handle.WriteAt([]byte("EVIL"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "keep"), []byte("EVIL EVIL"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest.Name()); string(b) != "the tree" {
		t.Fatalf("the host's archive = %q after the guest wrote to its own copy", b)
	}
	if left, _ := os.ReadDir(out); len(left) != 1 || left[0].Name() != "keep" {
		t.Fatalf("left in the out share: %v, want only the guest's own link", left)
	}
}

// TestSaveTreeRefusesNonFiles: a symlink (to a host file) or a fifo where
// the archive should be is refused at once, and nothing is copied.
func TestSaveTreeRefusesNonFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("host secret"), 0o600)
	for name, leave := range map[string]func(to string) error{
		"symlink":   func(to string) error { return os.Symlink(secret, to) },
		"fifo":      func(to string) error { return unix.Mkfifo(to, 0o644) },
		"directory": func(to string) error { return os.Mkdir(to, 0o755) },
	} {
		t.Run(name, func(t *testing.T) {
			r, _, _ := newTestRunner(t, leave)
			var got bytes.Buffer
			err := r.SaveTree(context.Background(), "t", &got)
			if !errors.Is(err, ErrUntrusted) {
				t.Fatalf("err = %v, want ErrUntrusted", err)
			}
			if got.Len() != 0 {
				t.Fatalf("copied %q", got.String())
			}
		})
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

// TestRunStageOutputLines: the agent's log messages are lines with their
// newline, a long line in pieces of which only the last ends one; the
// builder gets the text as it is, so pieces join again.
func TestRunStageOutputLines(t *testing.T) {
	h, g := net.Pipe()
	srv := jsoncomm.NewServer()
	srv.Handle(jsoncomm.MethodStageRun, func(ctx context.Context, p json.RawMessage, log func(jsoncomm.Log)) (any, error) {
		log(jsoncomm.Log{Stream: jsoncomm.StreamStdout, Text: "first\n"})
		log(jsoncomm.Log{Stream: jsoncomm.StreamStderr, Text: "a long "})
		log(jsoncomm.Log{Stream: jsoncomm.StreamStderr, Text: "line\n"})
		return jsoncomm.StageResult{Success: true}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, g, jsoncomm.Hello{})
	c, err := jsoncomm.NewClient(ctx, h, jsoncomm.Hello{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	r := New(c, nil, "", nil)
	if _, err := r.RunStage(ctx, &build.StageRun{Type: "t"}, func(stream, text string) { got = append(got, stream+":"+text) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"stdout:first\n", "stderr:a long ", "stderr:line\n"}; !slices.Equal(got, want) {
		t.Fatalf("output %q, want %q", got, want)
	}
}
