package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// Monitor is a QMP session with a running QEMU. Commands are bounded by
// their context: a QEMU that stops answering has its session closed.
type Monitor struct {
	mon  *qmp.SocketMonitor
	mu   sync.Mutex
	once sync.Once
}

// DialQMP connects to the QMP socket at path, retrying while QEMU has not
// created it yet, until ctx ends.
func DialQMP(ctx context.Context, path string) (*Monitor, error) {
	for {
		mon, err := qmp.NewSocketMonitor("unix", path, time.Second)
		if err == nil {
			m := &Monitor{mon: mon}
			if err := m.bounded(ctx, mon.Connect); err != nil {
				return nil, fmt.Errorf("qmp handshake %s: %w", path, err)
			}
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp connect %s: %w (last: %v)", path, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Status is QEMU's run state ("running", "paused", "shutdown", ...).
func (m *Monitor) Status(ctx context.Context) (string, error) {
	raw, err := m.run(ctx, "query-status")
	if err != nil {
		return "", err
	}
	var r struct {
		Return struct {
			Status string `json:"status"`
		} `json:"return"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", fmt.Errorf("qmp query-status: decode: %w", err)
	}
	return r.Return.Status, nil
}

// Powerdown presses the virtual power button (ACPI on x86_64, PSCI/GPIO on
// arm64); a guest that handles it powers off cleanly.
func (m *Monitor) Powerdown(ctx context.Context) error {
	_, err := m.run(ctx, "system_powerdown")
	return err
}

// Quit makes QEMU exit at once. QEMU may close the socket before it
// answers, which counts as success.
func (m *Monitor) Quit(ctx context.Context) error {
	_, err := m.run(ctx, "quit")
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Close ends the session.
func (m *Monitor) Close() error {
	var err error
	m.once.Do(func() { err = m.mon.Disconnect() })
	return err
}

func (m *Monitor) run(ctx context.Context, cmd string) ([]byte, error) {
	var raw []byte
	err := m.bounded(ctx, func() error {
		var err error
		raw, err = m.mon.Run([]byte(`{"execute":"` + cmd + `"}`))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	return raw, nil
}

// bounded runs f, closing the session if ctx ends first so that f returns.
func (m *Monitor) bounded(ctx context.Context, f func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		m.Close()
		<-done
		return ctx.Err()
	}
}
