package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// session runs a.serve on one end of a pipe and returns a client on the
// other and a channel that yields serve's result.
func session(t *testing.T, a *agent) (*jsoncomm.Client, <-chan error) {
	t.Helper()
	guest, host := net.Pipe()
	a.channel = guest
	done := make(chan error, 1)
	go func() { done <- a.serve(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := jsoncomm.NewClient(ctx, host, jsoncomm.Hello{Agent: "test"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, done
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("content"), 0o644))
	a := &agent{log: &logger{w: io.Discard}, modules: []string{"virtio"}, workDir: t.TempDir(),
		shares: []jsoncomm.Share{{Tag: "scratch", Path: dir}}}
	c, done := session(t, a)
	ctx := context.Background()
	if p := c.Peer(); p.Arch != runtime.GOARCH || p.Agent != Version {
		t.Errorf("hello = %+v", p)
	}
	if err := c.Call(ctx, jsoncomm.MethodPing, jsoncomm.Empty{}, nil, nil); err != nil {
		t.Fatalf("ping: %v", err)
	}
	var info jsoncomm.Info
	if err := c.Call(ctx, jsoncomm.MethodInfo, jsoncomm.Empty{}, &info, nil); err != nil {
		t.Fatalf("info: %v", err)
	}
	if info.Arch != runtime.GOARCH || len(info.Modules) != 1 || len(info.Shares) != 1 || info.BootMillis <= 0 {
		t.Errorf("info = %+v", info)
	}
	var fd jsoncomm.FileData
	if err := c.Call(ctx, jsoncomm.MethodReadFile, jsoncomm.ReadFileParams{Path: dir + "/f"}, &fd, nil); err != nil || string(fd.Data) != "content" {
		t.Errorf("file.read = %q, %v", fd.Data, err)
	}
	err := c.Call(ctx, jsoncomm.MethodWriteFile, jsoncomm.WriteFileParams{Path: dir + "/g", Data: []byte("x")}, nil, nil)
	if got, _ := os.ReadFile(dir + "/g"); err != nil || string(got) != "x" {
		t.Errorf("file.write: %v, file holds %q", err, got)
	}
	err = c.Call(ctx, jsoncomm.MethodReadFile, jsoncomm.ReadFileParams{Path: "/etc/passwd"}, &fd, nil)
	if !errors.Is(err, jsoncomm.ErrPermission) {
		t.Errorf("file.read outside shares = %v, want ErrPermission", err)
	}
	err = c.Call(ctx, jsoncomm.MethodReadFile, map[string]any{"path": dir + "/f", "extra": 1}, &fd, nil)
	if !errors.Is(err, jsoncomm.ErrInvalid) {
		t.Errorf("file.read with an unknown field = %v, want ErrInvalid", err)
	}
	c.Close()
	if err := wait(t, done); err != nil {
		t.Errorf("serve after the host closed = %v", err)
	}
}

// TestShutdownReplyFirst checks, frame by frame, that the shutdown reply is
// on the wire before the agent closes the channel. (jsoncomm.Client may
// report ErrClosed when the close follows the reply that closely, so the
// host end here reads raw frames.)
func TestShutdownReplyFirst(t *testing.T) {
	for i := 0; i < 20; i++ {
		a := &agent{log: &logger{w: io.Discard}, workDir: t.TempDir()}
		guest, host := net.Pipe()
		a.channel = guest
		done := make(chan error, 1)
		go func() { done <- a.serve(context.Background()) }()
		if m, err := jsoncomm.ReadMessage(host); err != nil || m.Kind != jsoncomm.KindHello {
			t.Fatalf("guest hello: %v %v", m, err)
		}
		must(t, jsoncomm.WriteMessage(host, &jsoncomm.Message{Kind: jsoncomm.KindHello, Hello: &jsoncomm.Hello{Version: jsoncomm.ProtocolVersion}}))
		must(t, jsoncomm.WriteMessage(host, &jsoncomm.Message{Kind: jsoncomm.KindCall, ID: 7, Method: jsoncomm.MethodShutdown, Params: []byte("{}")}))
		m, err := jsoncomm.ReadMessage(host)
		if err != nil || m.Kind != jsoncomm.KindReply || m.ID != 7 || m.Error != nil {
			t.Fatalf("shutdown reply = %+v, %v", m, err)
		}
		if err := wait(t, done); err != nil {
			t.Errorf("serve after shutdown = %v", err)
		}
		host.Close()
	}
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return")
		return nil
	}
}

func TestSafe(t *testing.T) {
	h := safe(func(context.Context, json.RawMessage, func(jsoncomm.Log)) (any, error) { panic("boom") })
	if _, err := h(context.Background(), nil, nil); !errors.Is(err, jsoncomm.ErrInternal) {
		t.Errorf("safe handler panic = %v, want ErrInternal", err)
	}
}

func TestFlushWatch(t *testing.T) {
	guest, host := net.Pipe()
	defer host.Close()
	fw := newFlushWatch(guest)
	fw.arm()
	fw.arm()
	go func() { io.ReadAll(host) }()
	fw.Write([]byte("reply"))
	fw.Write([]byte("more"))
	start := time.Now()
	fw.wait()
	if time.Since(start) > time.Second {
		t.Error("wait blocked although the armed write completed")
	}
}
