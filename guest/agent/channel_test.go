package agent

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// fakePorts makes a sysfs-like and a dev-like directory with the given
// port names; a port's "device" is a regular file holding its name.
func fakePorts(t *testing.T, ports map[string]string, withDev bool) (string, string) {
	t.Helper()
	sys, dev := t.TempDir(), t.TempDir()
	for port, name := range ports {
		must(t, os.MkdirAll(filepath.Join(sys, port), 0o755))
		must(t, os.WriteFile(filepath.Join(sys, port, "name"), []byte(name+"\n"), 0o644))
		if withDev {
			must(t, os.WriteFile(filepath.Join(dev, port), []byte(port), 0o644))
		}
	}
	return sys, dev
}

func TestOpenPort(t *testing.T) {
	ports := map[string]string{"vport0p0": "", "vport0p1": "org.qemu.guest_agent.0", "vport1p1": jsoncomm.VirtioSerialName}
	sys, dev := fakePorts(t, ports, true)
	f, err := openPort(sys, dev, jsoncomm.VirtioSerialName)
	if err != nil {
		t.Fatalf("openPort: %v", err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if string(got) != "vport1p1" {
		t.Errorf("opened %q, want vport1p1", got)
	}
}

func TestOpenPortNotYet(t *testing.T) {
	for name, dirs := range map[string]func() (string, string){
		"no sysfs class": func() (string, string) { return filepath.Join(t.TempDir(), "none"), t.TempDir() },
		"name not set":   func() (string, string) { return fakePorts(t, map[string]string{"vport0p1": ""}, true) },
		"no device node": func() (string, string) {
			return fakePorts(t, map[string]string{"vport0p1": jsoncomm.VirtioSerialName}, false)
		},
	} {
		t.Run(name, func(t *testing.T) {
			sys, dev := dirs()
			if _, err := openPort(sys, dev, jsoncomm.VirtioSerialName); !errors.Is(err, errNoPort) {
				t.Errorf("openPort = %v, want errNoPort", err)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	calls := 0
	err := retry(time.Second, func(err error) bool { return errors.Is(err, errNoPort) }, func() error {
		calls++
		if calls < 3 {
			return errNoPort
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retry = %v after %d calls, want nil after 3", err, calls)
	}
	final := errors.New("final")
	calls = 0
	err = retry(time.Second, func(err error) bool { return errors.Is(err, errNoPort) }, func() error { calls++; return final })
	if err != final || calls != 1 {
		t.Errorf("retry of a final error = %v after %d calls", err, calls)
	}
	start := time.Now()
	err = retry(20*time.Millisecond, func(error) bool { return true }, func() error { return errNoPort })
	if !errors.Is(err, errNoPort) || time.Since(start) > time.Second {
		t.Errorf("retry past its deadline = %v after %v", err, time.Since(start))
	}
}
