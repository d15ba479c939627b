package vm

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"sync"
)

// MaxConsoleLog caps console.log: the console is written by the guest,
// which is untrusted and must not fill the host's disk.
const MaxConsoleLog = 8 << 20

// tailBytes is how much of the console is kept in memory for errors and
// ConsoleTail, after the log file is gone.
const tailBytes = 64 << 10

// console receives the guest's serial console from QEMU over a socket, and
// keeps it in a capped log file and a bounded in-memory tail.
type console struct {
	mu      sync.Mutex
	file    *os.File
	written int64
	tail    []byte
	done    chan struct{}
}

func newConsole(path string) (*console, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &console{file: f, done: make(chan struct{})}, nil
}

// serve accepts QEMU's one connection on ln and copies it until QEMU
// closes it; ln is closed once accepted or when stop is closed.
func (c *console) serve(ln net.Listener) {
	defer close(c.done)
	conn, err := ln.Accept()
	ln.Close()
	if err != nil {
		return
	}
	defer conn.Close()
	io.Copy(c, conn)
}

// Write records p: in the file while under MaxConsoleLog, and in the tail.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := MaxConsoleLog - c.written; room > 0 && c.file != nil {
		n, _ := c.file.Write(p[:min(int64(len(p)), room)])
		c.written += int64(n)
	}
	c.tail = append(c.tail, p...)
	if len(c.tail) > tailBytes {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailBytes:]...)
	}
	return len(p), nil
}

// Tail returns the console's last n lines, control characters other than
// newline and tab dropped so that a guest cannot drive the user's terminal.
func (c *console) Tail(n int) string {
	c.mu.Lock()
	t := bytes.TrimRight(c.tail, "\r\n")
	var lines []string
	for n > 0 && len(t) > 0 {
		i := bytes.LastIndexByte(t, '\n')
		lines = append(lines, clean(t[i+1:]))
		t = t[:max(i, 0)]
		n--
	}
	c.mu.Unlock()
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	return strings.Join(lines, "\n")
}

func clean(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || (r >= ' ' && r != 0x7f && !(r >= 0x80 && r < 0xa0)) {
			return r
		}
		return -1
	}, string(bytes.ToValidUTF8(b, []byte("?"))))
}

// closeFile closes the log file; later output stays in the tail only.
func (c *console) closeFile() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == nil {
		return nil
	}
	err := c.file.Close()
	c.file = nil
	return err
}
