package monitor

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// failingWriter fails every write after the first ok ones.
type failingWriter struct {
	ok, calls int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.calls > w.ok {
		return 0, errDiskFull
	}
	return len(p), nil
}

// TestMonitorWriteError: a monitor whose output fails reports the first
// error through Err and writes nothing after it.
func TestMonitorWriteError(t *testing.T) {
	for _, name := range []string{"LogMonitor", "JSONSeqMonitor"} {
		t.Run(name, func(t *testing.T) {
			w := &failingWriter{ok: 2}
			m, err := New(name, w)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Err(); err != nil {
				t.Fatalf("Err before any write = %v", err)
			}
			script(m, false)
			if err := m.Err(); !errors.Is(err, errDiskFull) {
				t.Fatalf("Err = %v, want the writer's error", err)
			}
			if w.calls != w.ok+1 {
				t.Errorf("%d writes, want %d: the monitor kept writing after the error", w.calls, w.ok+1)
			}
		})
	}
}

// TestMonitorDevFull writes to /dev/full, as --monitor-fd on a full disk.
func TestMonitorDevFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"LogMonitor", "JSONSeqMonitor"} {
		m, _ := New(name, f)
		m.RunStarted("manifest.json", 1)
		if err := m.Err(); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s: Err = %v, want ENOSPC", name, err)
		}
	}
	if err := (NullMonitor{}).Err(); err != nil {
		t.Errorf("NullMonitor: Err = %v", err)
	}
}
