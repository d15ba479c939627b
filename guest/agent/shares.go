package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// deviceWait bounds how long the agent waits for a virtio device (a
// virtiofs tag, the control port) to show up after its driver loaded.
const deviceWait = 10 * time.Second

// mountShares mounts every share at SharesDir/<tag>.
func mountShares(specs []ShareSpec) ([]jsoncomm.Share, error) {
	shares := make([]jsoncomm.Share, 0, len(specs))
	for _, s := range specs {
		sh, err := mountShare(s)
		if err != nil {
			return nil, err
		}
		shares = append(shares, sh)
	}
	return shares, nil
}

// mountShare mounts one virtiofs share. virtiofs answers EINVAL for a tag
// whose device has not been probed yet, ENODEV before the fs type exists.
func mountShare(s ShareSpec) (jsoncomm.Share, error) {
	path := filepath.Join(SharesDir, s.Tag)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return jsoncomm.Share{}, fmt.Errorf("mount share %s: %w", s.Tag, err)
	}
	flags := uintptr(unix.MS_NODEV)
	if s.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	notYet := func(err error) bool {
		return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
	}
	err := retry(deviceWait, notYet, func() error {
		return unix.Mount(s.Tag, path, "virtiofs", flags, "")
	})
	if err != nil {
		return jsoncomm.Share{}, fmt.Errorf("mount share %s on %s: %w", s.Tag, path, err)
	}
	return jsoncomm.Share{Tag: s.Tag, Path: path, ReadOnly: s.ReadOnly}, nil
}

// unmountAll unmounts the shares and the work dir before power-off, so
// that virtiofsd sees every file closed. Errors are only logged: the VM
// goes down either way, and sync has already run.
func unmountAll(l *logger, shares []jsoncomm.Share) {
	unix.Sync()
	for _, sh := range shares {
		if err := unix.Unmount(sh.Path, 0); err != nil {
			l.phase("unmount %s: %v", sh.Path, err)
		}
	}
	if err := unix.Unmount(WorkDir, unix.MNT_DETACH); err != nil {
		l.phase("unmount %s: %v", WorkDir, err)
	}
}
