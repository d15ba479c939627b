package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// enterRoot makes root the process's root and cwd. pivot_root detaches the
// agent's whole mount tree; on an initramfs root, which pivot_root cannot
// leave, it moves root over "/" and chroots instead, which hides the
// agent's mounts under the new root.
func enterRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	err := unix.PivotRoot(".", ".")
	switch {
	case err == nil:
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach old root: %w", err)
		}
	case errors.Is(err, unix.EINVAL):
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move root: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	default:
		return fmt.Errorf("pivot_root: %w", err)
	}
	return unix.Chdir("/")
}

// keptCapabilities is upstream osbuild's DEFAULT_CAPABILITIES.
var keptCapabilities = map[int]bool{
	unix.CAP_AUDIT_WRITE: true, unix.CAP_CHOWN: true, unix.CAP_DAC_OVERRIDE: true,
	unix.CAP_DAC_READ_SEARCH: true, unix.CAP_FOWNER: true, unix.CAP_FSETID: true,
	unix.CAP_IPC_LOCK: true, unix.CAP_LINUX_IMMUTABLE: true, unix.CAP_MAC_OVERRIDE: true,
	unix.CAP_MKNOD: true, unix.CAP_NET_BIND_SERVICE: true, unix.CAP_SETFCAP: true,
	unix.CAP_SETGID: true, unix.CAP_SETPCAP: true, unix.CAP_SETUID: true,
	unix.CAP_SYS_ADMIN: true, unix.CAP_SYS_CHROOT: true, unix.CAP_SYS_NICE: true,
	unix.CAP_SYS_RESOURCE: true,
}

// DropBoundingSet removes every capability but upstream osbuild's from the
// calling thread's bounding set, which processes it starts inherit: a root
// process that thread executes gets only those. The runner calls it on a
// throw-away thread before it starts a setup process, so that every
// thread of the setup process, and a built-in stage running in it, has
// only those (see Main); the setup process calls it when that did not
// happen.
func DropBoundingSet() error {
	for c := 0; c < 64; c++ {
		if keptCapabilities[c] {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			return nil // past the kernel's last capability
		}
		if err != nil {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}
