package vm

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mdlayher/vsock"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// vhostVsock is the host device vhost-vsock-pci needs.
const vhostVsock = "/dev/vhost-vsock"

var cidCounter atomic.Uint32

// nextCID picks a guest CID unlikely to collide with other VMs on the host:
// derived from our pid plus a per-process counter. A collision makes QEMU
// exit at start ("Address already in use"), reported as ErrExited.
func nextCID() uint32 {
	return 3 + (uint32(os.Getpid())<<8+cidCounter.Add(1))%(1<<31)
}

// channelArg is the kernel command line's channel word.
func channelArg(c Config) string {
	if c.Channel == ChannelVsock {
		return jsoncomm.CmdlineChannel + "=vsock:" + strconv.Itoa(jsoncomm.VsockPort)
	}
	return jsoncomm.CmdlineChannel + "=virtio-serial"
}

// checkVsock says why vsock cannot be used with the vhost device at path,
// or nil.
func checkVsock(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("channel vsock: %v: %w; load the vhost_vsock module or use virtio-serial", err, ErrConfig)
	}
	return f.Close()
}

// connect returns the control connection: the accepted virtio-serial
// chardev, or a vsock connection to the agent, dialled until it listens.
func (v *VM) connect(ctx context.Context, ln *net.UnixListener) (io.ReadWriteCloser, error) {
	if v.cfg.Channel != ChannelVsock {
		go func() { <-ctx.Done(); ln.Close() }()
		return ln.Accept()
	}
	for {
		c, err := vsock.Dial(v.cid, jsoncomm.VsockPort, nil)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial vsock cid %d: %w", v.cid, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
