package jsoncomm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Message is one frame's content. Kind says which of the other fields are
// set.
type Message struct {
	Kind   string          `json:"kind"`
	ID     uint64          `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	Log    *Log            `json:"log,omitempty"`
	Hello  *Hello          `json:"hello,omitempty"`
}

// Message kinds.
const (
	KindHello  = "hello"
	KindCall   = "call"
	KindReply  = "reply"
	KindLog    = "log"
	KindCancel = "cancel"
)

// Hello opens a session from either side.
type Hello struct {
	Version int    `json:"version"`
	Agent   string `json:"agent,omitempty"`
	Arch    string `json:"arch,omitempty"`
}

// Log is one chunk of output produced while serving a call: a stage's
// stdout or stderr, or the agent's own progress.
type Log struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamAgent  = "agent"
)

// WriteMessage frames m onto w. It refuses messages over MaxMessageSize so
// that the peer never sees a frame it must reject.
func WriteMessage(w io.Writer, m *Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Kind, err)
	}
	if len(body) > MaxMessageSize {
		return fmt.Errorf("encode %s message: %d bytes: %w", m.Kind, len(body), ErrTooLarge)
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	_, err = w.Write(buf)
	return err
}

// ReadMessage reads one frame from r. It rejects a frame over
// MaxMessageSize before allocating for it, a body that is not one JSON
// object, and a message without a kind.
func ReadMessage(r io.Reader) (*Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxMessageSize {
		return nil, fmt.Errorf("read frame: %d bytes: %w", n, ErrTooLarge)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	return decode(body)
}

func decode(body []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode frame: %v: %w", err, ErrProtocol)
	}
	switch m.Kind {
	case KindHello:
		if m.Hello == nil {
			return nil, fmt.Errorf("decode frame: hello without content: %w", ErrProtocol)
		}
	case KindCall:
		if m.Method == "" || m.ID == 0 {
			return nil, fmt.Errorf("decode frame: call without method or id: %w", ErrProtocol)
		}
	case KindReply, KindCancel:
		if m.ID == 0 {
			return nil, fmt.Errorf("decode frame: %s without id: %w", m.Kind, ErrProtocol)
		}
	case KindLog:
		if m.ID == 0 || m.Log == nil {
			return nil, fmt.Errorf("decode frame: log without id or content: %w", ErrProtocol)
		}
	default:
		return nil, fmt.Errorf("decode frame: unknown kind %q: %w", m.Kind, ErrProtocol)
	}
	return &m, nil
}
