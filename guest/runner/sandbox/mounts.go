package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// Node is a block device the stage finds in its /dev: one of its devices
// (osbuild's "devices", e.g. a loop device) or a partition of one.
type Node struct {
	Name         string `json:"name"`
	Major, Minor uint32
}

// Mount is one of the stage's mounts (osbuild's "mounts"): the file
// system on node Source (in the stage's /dev) mounted at Target below
// /run/osbuild/mounts, with Flags and Data as mount(2) takes them.
type Mount struct {
	Name   string  `json:"name"`
	Source string  `json:"source"`
	FSType string  `json:"fstype"`
	Target string  `json:"target"`
	Flags  uintptr `json:"flags,omitempty"`
	Data   string  `json:"data,omitempty"`
}

// mountsDir is where a stage's mounts are, in the stage's view.
const mountsDir = "/run/osbuild/mounts"

// validDevices checks the nodes and mounts: node names are path
// components, every mount's source is a node, targets are absolute and
// clean, file system types are plain names.
func (s *Spec) validDevices() error {
	nodes := map[string]bool{}
	for _, n := range s.Nodes {
		if !Component(n.Name) {
			return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: device node %q", n.Name)
		}
		nodes[n.Name] = true
	}
	for _, m := range s.Mounts {
		switch {
		case !nodes[m.Source]:
			return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: mount %q: source %q is no device node", m.Name, m.Source)
		case !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target:
			return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: mount %q: target %q is not absolute and clean", m.Name, m.Target)
		case !Component(m.FSType) || strings.ContainsAny(m.FSType, ", "):
			return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: mount %q: file system type %q", m.Name, m.FSType)
		}
	}
	return nil
}

// makeNodes makes the spec's block device nodes in the stage's /dev (dev,
// a fresh tmpfs), readable and writable by root only, as osbuild's
// loopback device makes them.
func makeNodes(spec *Spec, dev string) error {
	for _, n := range spec.Nodes {
		p := filepath.Join(dev, n.Name)
		if err := unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(n.Major, n.Minor))); err != nil {
			return fmt.Errorf("/dev/%s: %w", n.Name, err)
		}
	}
	return nil
}

// mountAll mounts the spec's file systems in order below the root's
// /run/osbuild/mounts. A target's missing directories are made inside
// whatever is mounted there already (the root file system, for /boot),
// as osbuild does; a symlink on the way is refused, since it would lead
// the mount out of the stage's mounts.
func mountAll(spec *Spec, root string) error {
	base := filepath.Join(root, mountsDir)
	for _, m := range spec.Mounts {
		if err := mountOne(m, filepath.Join(root, "dev", m.Source), base); err != nil {
			return err
		}
	}
	return nil
}

func mountOne(m Mount, source, base string) error {
	dir, err := mkdirBeneath(base, strings.TrimPrefix(m.Target, "/"))
	if err != nil {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "mount %s: target %s: %v", m.Name, m.Target, err)
	}
	defer unix.Close(dir)
	err = unix.Mount(source, fmt.Sprintf("/proc/self/fd/%d", dir), m.FSType, m.Flags, m.Data)
	if err != nil {
		return mountError(m, err)
	}
	return nil
}

// mountError says why a mount failed in the words mount(8) would use.
func mountError(m Mount, err error) error {
	what := fmt.Sprintf("mount %s (%s on /dev/%s at %s)", m.Name, m.FSType, m.Source, m.Target)
	switch {
	case errors.Is(err, unix.EINVAL):
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "%s: no %s file system there, or bad options %q: %v", what, m.FSType, m.Data, err)
	case errors.Is(err, unix.ENODEV):
		return jsoncomm.Errorf(jsoncomm.ErrUnsupported, "%s: the guest kernel has no %s file system", what, m.FSType)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mkdirBeneath opens directory rel below base, making what is missing
// (0755), without following any symlink, and returns an O_PATH descriptor.
func mkdirBeneath(base, rel string) (int, error) {
	fd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" {
			continue
		}
		next, err := openDir(fd, c)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = openDir(fd, c)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", c, err)
		}
		fd = next
	}
	return fd, nil
}

func openDir(dirfd int, name string) (int, error) {
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("not a directory (a symlink?): %w", err)
	}
	return fd, err
}

// unmountAll unmounts the spec's mounts in reverse order once the stage
// and every process of its namespace are gone, so that their file
// systems are written out before the runner detaches the devices under
// them. It runs in the stage's root, after the stage: a path that the
// stage turned into a symlink is not followed. Should an unmount fail,
// the namespace's end unmounts the rest, and the runner's detach tells
// whether the kernel let go.
//
// A built-in stage ran in this process and may have left a descriptor
// open in a mount (EBUSY): that mount is detached, and the kernel writes
// it out when this process exits, which the runner waits for before it
// detaches the devices.
func unmountAll(spec *Spec) error {
	if len(spec.Mounts) == 0 {
		return nil
	}
	unix.Chdir("/")
	var errs []error
	for i := len(spec.Mounts) - 1; i >= 0; i-- {
		m := spec.Mounts[i]
		target := filepath.Join(mountsDir, m.Target)
		err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(target, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unmount %s at %s: %w", m.Name, target, err))
		}
	}
	return errors.Join(errs...)
}

// reportUnmount writes an unmount failure where the stage's output went.
func reportUnmount(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "stage setup: %v\n", err)
	}
}
