package jsoncomm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Client is the host's end of a session. Calls may run concurrently from
// several goroutines; one goroutine reads replies and routes them by ID.
type Client struct {
	rw    io.ReadWriteCloser
	wmu   sync.Mutex
	peer  Hello
	mu    sync.Mutex
	next  uint64
	calls map[uint64]*pending
	done  chan struct{}
	err   error // why the session ended; set before done closes
}

type pending struct {
	reply chan *Message
	log   func(Log)
}

// NewClient runs the handshake on rw: it waits for the guest's hello,
// checks its version, and answers with the host's hello. ctx bounds the
// wait (a guest that never speaks is a boot failure, not a hang).
func NewClient(ctx context.Context, rw io.ReadWriteCloser, self Hello) (*Client, error) {
	self.Version = ProtocolVersion
	peer, err := handshake(ctx, rw, func() (*Hello, error) {
		m, err := ReadMessage(rw)
		if err != nil {
			return nil, err
		}
		if m.Kind != KindHello {
			return nil, fmt.Errorf("handshake: got %q before hello: %w", m.Kind, ErrProtocol)
		}
		if m.Hello.Version != ProtocolVersion {
			WriteMessage(rw, &Message{Kind: KindHello, Hello: &self})
			return nil, fmt.Errorf("handshake: guest speaks protocol %d, host %d: %w", m.Hello.Version, ProtocolVersion, ErrProtocol)
		}
		return m.Hello, WriteMessage(rw, &Message{Kind: KindHello, Hello: &self})
	})
	if err != nil {
		return nil, err
	}
	c := &Client{rw: rw, peer: *peer, calls: map[uint64]*pending{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// handshake runs step, giving up (and closing rw to unblock it) when ctx
// ends first.
func handshake(ctx context.Context, rw io.Closer, step func() (*Hello, error)) (*Hello, error) {
	type res struct {
		h   *Hello
		err error
	}
	ch := make(chan res, 1)
	go func() { h, err := step(); ch <- res{h, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("handshake: %w", r.err)
		}
		return r.h, nil
	case <-ctx.Done():
		rw.Close()
		return nil, fmt.Errorf("handshake: %w", ctx.Err())
	}
}

// Peer is the guest's hello.
func (c *Client) Peer() Hello { return c.peer }

// Done is closed when the session ends; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the session ended, or nil while it is open.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the session; calls in flight fail with ErrClosed.
func (c *Client) Close() error { return c.rw.Close() }

// Call sends method with params, streams the call's log lines to onLog (may
// be nil) and decodes the reply's result into result (may be nil). An error
// reply comes back as an *Error. When ctx ends first, Call asks the guest to
// cancel the call and returns ctx's error without waiting.
func (c *Client) Call(ctx context.Context, method string, params, result any, onLog func(Log)) error {
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("call %s: encode params: %w", method, err)
	}
	p := &pending{reply: make(chan *Message, 1), log: onLog}
	id, err := c.register(p)
	if err != nil {
		return fmt.Errorf("call %s: %w", method, err)
	}
	defer c.unregister(id)
	if err := c.write(&Message{Kind: KindCall, ID: id, Method: method, Params: raw}); err != nil {
		return fmt.Errorf("call %s: %w", method, err)
	}
	select {
	case m := <-p.reply:
		return decodeReply(method, m, result)
	case <-c.done:
		// A reply may have arrived just before the session ended (the
		// guest's answer to shutdown, say): it wins over the close.
		select {
		case m := <-p.reply:
			return decodeReply(method, m, result)
		default:
		}
		return fmt.Errorf("call %s: %w", method, c.err)
	case <-ctx.Done():
		c.write(&Message{Kind: KindCancel, ID: id})
		return fmt.Errorf("call %s: %w", method, ctx.Err())
	}
}

func decodeReply(method string, m *Message, result any) error {
	if m.Error != nil {
		return m.Error
	}
	if result == nil || len(m.Result) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Result, result); err != nil {
		return fmt.Errorf("call %s: decode result: %v: %w", method, err, ErrProtocol)
	}
	return nil
}

func (c *Client) register(p *pending) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return 0, c.err
	default:
	}
	c.next++
	c.calls[c.next] = p
	return c.next, nil
}

func (c *Client) unregister(id uint64) {
	c.mu.Lock()
	delete(c.calls, id)
	c.mu.Unlock()
}

func (c *Client) lookup(id uint64) *pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func (c *Client) write(m *Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return WriteMessage(c.rw, m)
}

// readLoop routes replies and logs until the channel fails. A reply or log
// for an unknown ID (a call the host gave up on) is dropped; anything else
// unexpected from the guest ends the session, since the guest is untrusted.
func (c *Client) readLoop() {
	err := c.route()
	c.mu.Lock()
	if err == io.EOF || err == nil {
		err = ErrClosed
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	c.rw.Close()
}

func (c *Client) route() error {
	for {
		m, err := ReadMessage(c.rw)
		if err != nil {
			return err
		}
		switch m.Kind {
		case KindReply:
			if p := c.lookup(m.ID); p != nil {
				p.reply <- m
			}
		case KindLog:
			if p := c.lookup(m.ID); p != nil && p.log != nil {
				p.log(*m.Log)
			}
		default:
			return fmt.Errorf("guest sent %q: %w", m.Kind, ErrProtocol)
		}
	}
}
