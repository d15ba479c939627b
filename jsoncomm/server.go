package jsoncomm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Handler serves one method. log sends a line for this call to the host
// while the call runs. The returned value becomes the reply's result; an
// error becomes an *Error via FromError.
type Handler func(ctx context.Context, params json.RawMessage, log func(Log)) (any, error)

// Server is the guest's end of a session.
type Server struct {
	handlers map[string]Handler
}

// NewServer returns a server with no methods.
func NewServer() *Server { return &Server{handlers: map[string]Handler{}} }

// Handle registers h for method.
func (s *Server) Handle(method string, h Handler) { s.handlers[method] = h }

// Serve runs a session on rw: it sends self as hello, checks the host's
// hello, and serves calls, each in its own goroutine, until rw fails or ctx
// ends. It returns nil when the host closed the channel.
func (s *Server) Serve(ctx context.Context, rw io.ReadWriteCloser, self Hello) error {
	self.Version = ProtocolVersion
	if err := WriteMessage(rw, &Message{Kind: KindHello, Hello: &self}); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	m, err := ReadMessage(rw)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if m.Kind != KindHello || m.Hello.Version != ProtocolVersion {
		return fmt.Errorf("handshake: host sent %q version %v: %w", m.Kind, m.Hello, ErrProtocol)
	}
	ss := &session{srv: s, rw: rw, cancels: map[uint64]context.CancelFunc{}}
	return ss.run(ctx)
}

type session struct {
	srv     *Server
	rw      io.ReadWriteCloser
	wmu     sync.Mutex
	mu      sync.Mutex
	cancels map[uint64]context.CancelFunc
	wg      sync.WaitGroup
}

func (ss *session) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); ss.wg.Wait() }()
	go func() { <-ctx.Done(); ss.rw.Close() }()
	for {
		m, err := ReadMessage(ss.rw)
		if err == io.EOF || ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		switch m.Kind {
		case KindCall:
			ss.start(ctx, m)
		case KindCancel:
			ss.cancel(m.ID)
		default:
			return fmt.Errorf("host sent %q: %w", m.Kind, ErrProtocol)
		}
	}
}

func (ss *session) start(ctx context.Context, m *Message) {
	cctx, cancel := context.WithCancel(ctx)
	ss.mu.Lock()
	ss.cancels[m.ID] = cancel
	ss.mu.Unlock()
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		reply := ss.serve(cctx, m)
		ss.mu.Lock()
		delete(ss.cancels, m.ID)
		ss.mu.Unlock()
		cancel()
		ss.write(reply)
	}()
}

func (ss *session) cancel(id uint64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if c := ss.cancels[id]; c != nil {
		c()
	}
}

func (ss *session) serve(ctx context.Context, m *Message) *Message {
	reply := &Message{Kind: KindReply, ID: m.ID}
	h := ss.srv.handlers[m.Method]
	if h == nil {
		reply.Error = &Error{Kind: "unsupported", Message: fmt.Sprintf("unknown method %q", m.Method)}
		return reply
	}
	log := func(l Log) { ss.write(&Message{Kind: KindLog, ID: m.ID, Log: &l}) }
	res, err := h(ctx, m.Params, log)
	if err == nil {
		reply.Result, err = json.Marshal(res)
	}
	if err != nil {
		reply.Result = nil
		reply.Error = FromError(err)
		if ctx.Err() != nil && reply.Error.Kind == "internal" {
			reply.Error.Kind = "canceled"
		}
	}
	return reply
}

func (ss *session) write(m *Message) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if err := WriteMessage(ss.rw, m); err != nil && m.Kind == KindReply {
		// A reply too large for a frame still owes the host an answer.
		if err2 := WriteMessage(ss.rw, &Message{Kind: KindReply, ID: m.ID, Error: FromError(err)}); err2 != nil {
			ss.rw.Close()
		}
	}
}
