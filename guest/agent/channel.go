package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mdlayher/vsock"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// errNoPort means the named virtio-serial port has not appeared (yet).
var errNoPort = errors.New("no such virtio-serial port")

// openChannel opens the control channel cfg names.
func openChannel(ctx context.Context, cfg Config) (io.ReadWriteCloser, error) {
	if cfg.Channel == ChannelVsock {
		return acceptVsock(ctx, cfg.VsockPort)
	}
	var f *os.File
	err := retry(deviceWait, func(err error) bool { return errors.Is(err, errNoPort) }, func() error {
		var err error
		f, err = openPort("/sys/class/virtio-ports", "/dev", jsoncomm.VirtioSerialName)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open channel %s: %w", jsoncomm.VirtioSerialName, err)
	}
	return f, nil
}

// openPort finds the virtio-serial port called name and opens its device.
// There is no udev in the guest to make /dev/virtio-ports/<name>, so the
// port is found by the name attribute the host sets in sysfs
// (/sys/class/virtio-ports/vportNpM/name), and opened as /dev/vportNpM.
func openPort(sysDir, devDir, name string) (*os.File, error) {
	ports, err := os.ReadDir(sysDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, p := range ports {
		got, err := os.ReadFile(filepath.Join(sysDir, p.Name(), "name"))
		if err != nil || string(bytes.TrimSpace(got)) != name {
			continue
		}
		f, err := os.OpenFile(filepath.Join(devDir, p.Name()), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", p.Name(), errNoPort)
		}
		return f, err
	}
	return nil, errNoPort
}

// acceptVsock waits for the host to connect on port and returns that one
// connection.
func acceptVsock(ctx context.Context, port uint32) (io.ReadWriteCloser, error) {
	l, err := vsock.Listen(port, nil)
	if err != nil {
		return nil, fmt.Errorf("listen vsock port %d: %w", port, err)
	}
	defer l.Close()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	c, err := l.Accept()
	if err != nil {
		return nil, fmt.Errorf("accept vsock port %d: %w", port, err)
	}
	return c, nil
}
