package jsoncomm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// pair starts a server with handlers on one end of a pipe and returns a
// client on the other.
func pair(t *testing.T, handlers map[string]Handler) *Client {
	t.Helper()
	h, g := net.Pipe()
	srv := NewServer()
	for m, fn := range handlers {
		srv.Handle(m, fn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, g, Hello{Agent: "test", Arch: "amd64"}) }()
	c, err := NewClient(ctx, h, Hello{Agent: "host"})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close(); cancel(); <-served })
	return c
}

func TestCallRoundTrip(t *testing.T) {
	c := pair(t, map[string]Handler{
		"echo": func(ctx context.Context, p json.RawMessage, log func(Log)) (any, error) {
			var in ReadFileParams
			if err := json.Unmarshal(p, &in); err != nil {
				return nil, err
			}
			log(Log{Stream: StreamStdout, Text: "got " + in.Path})
			return FileData{Data: []byte(in.Path)}, nil
		},
	})
	if got := c.Peer(); got.Arch != "amd64" || got.Version != ProtocolVersion {
		t.Fatalf("peer hello = %+v", got)
	}
	var logs []string
	var out FileData
	err := c.Call(context.Background(), "echo", ReadFileParams{Path: "/x"}, &out, func(l Log) { logs = append(logs, l.Text) })
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Data) != "/x" || len(logs) != 1 || logs[0] != "got /x" {
		t.Fatalf("result %q logs %q", out.Data, logs)
	}
}

func TestTypedErrors(t *testing.T) {
	c := pair(t, map[string]Handler{
		"missing": func(ctx context.Context, p json.RawMessage, log func(Log)) (any, error) {
			return nil, fmt.Errorf("read /nope: %w", ErrNotFound)
		},
	})
	err := c.Call(context.Background(), "missing", Empty{}, nil, nil)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "read /nope") {
		t.Fatalf("message lost: %v", err)
	}
	err = c.Call(context.Background(), "no-such-method", Empty{}, nil, nil)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown method: err = %v, want ErrUnsupported", err)
	}
}

func TestCancelReachesHandler(t *testing.T) {
	stopped := make(chan error, 1)
	c := pair(t, map[string]Handler{
		"block": func(ctx context.Context, p json.RawMessage, log func(Log)) (any, error) {
			<-ctx.Done()
			stopped <- ctx.Err()
			return nil, ctx.Err()
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Call(ctx, "block", Empty{}, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler saw %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler was not canceled")
	}
}

func TestConcurrentCalls(t *testing.T) {
	c := pair(t, map[string]Handler{
		"ping": func(ctx context.Context, p json.RawMessage, log func(Log)) (any, error) { return Empty{}, nil },
	})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- c.Call(context.Background(), "ping", Empty{}, nil, nil) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestVersionMismatch(t *testing.T) {
	h, g := net.Pipe()
	go func() {
		WriteMessage(g, &Message{Kind: KindHello, Hello: &Hello{Version: ProtocolVersion + 1}})
		ReadMessage(g)
		g.Close()
	}()
	_, err := NewClient(context.Background(), h, Hello{})
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	h, _ := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := NewClient(ctx, h, Hello{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestGuestGarbageEndsSession(t *testing.T) {
	h, g := net.Pipe()
	go func() {
		WriteMessage(g, &Message{Kind: KindHello, Hello: &Hello{Version: ProtocolVersion}})
		ReadMessage(g)
		WriteMessage(g, &Message{Kind: KindCall, ID: 1, Method: "evil"})
	}()
	c, err := NewClient(context.Background(), h, Hello{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if !errors.Is(c.Err(), ErrProtocol) {
		t.Fatalf("Err = %v", c.Err())
	}
	if err := c.Call(context.Background(), "ping", Empty{}, nil, nil); err == nil {
		t.Fatal("call on dead session succeeded")
	}
}

func TestFrameLimits(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxMessageSize+1)
	if _, err := ReadMessage(bytes.NewReader(hdr[:])); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized frame: err = %v", err)
	}
	big := &Message{Kind: KindLog, ID: 1, Log: &Log{Text: strings.Repeat("x", MaxMessageSize)}}
	if err := WriteMessage(&bytes.Buffer{}, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized write: err = %v", err)
	}
	cases := map[string]string{
		"truncated body": "\x00\x00\x00\x10{}",
		"not json":       "\x00\x00\x00\x03abc",
		"unknown kind":   "\x00\x00\x00\x0e{\"kind\":\"xx\"}",
		"call no id":     "\x00\x00\x00\x1e{\"kind\":\"call\",\"method\":\"a\"}",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadMessage(strings.NewReader(in)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestErrorKindsRoundTrip(t *testing.T) {
	for _, k := range kinds {
		je := FromError(fmt.Errorf("wrapped: %w", k.err))
		if je.Kind != k.kind {
			t.Errorf("%v: kind %q", k.err, je.Kind)
		}
		if !errors.Is(je, k.err) {
			t.Errorf("%v: does not map back", k.err)
		}
	}
	if !errors.Is(&Error{Kind: "made-up"}, ErrInternal) {
		t.Error("unknown kind should map to ErrInternal")
	}
}

func FuzzReadMessage(f *testing.F) {
	var buf bytes.Buffer
	WriteMessage(&buf, &Message{Kind: KindCall, ID: 3, Method: MethodPing, Params: json.RawMessage(`{}`)})
	f.Add(buf.Bytes())
	f.Add([]byte("\x00\x00\x00\x02{}"))
	f.Add([]byte("\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ReadMessage(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteMessage(&out, m); err != nil {
			t.Fatalf("re-encode accepted message: %v", err)
		}
		if _, err := ReadMessage(&out); err != nil {
			t.Fatalf("re-read: %v", err)
		}
	})
}
