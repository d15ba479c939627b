package deb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/osbuild-vm/osbuild-vm/images/debian/bootstrap"
)

// chroot is a tree made ready to run its own dpkg, as mmdebstrap does it:
// /proc, /sys and /dev/pts mounted, the packages visible at debDir, and
// services kept from starting (policy-rc.d, a start-stop-daemon that does
// nothing). Close undoes all of it, in reverse, also after a failure.
type chroot struct {
	tree  string
	undo  []func() error
	debs  string // the input directory as the chroot sees it
	fixed bool
}

// debDir is where the packages appear inside the tree while installing.
const debDir = "/tmp/osbuild-vm-debs"

func enterChroot(tree, debs string) (c *chroot, err error) {
	c = &chroot{tree: tree, debs: debDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	steps := []func() error{
		func() error { return c.mount("proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "") },
		func() error {
			return c.mount("sysfs", "sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
		},
		func() error {
			return c.mount("devpts", "dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
		},
		c.bindDevices,
		func() error { return c.bindDebs(debs) },
		c.stopServices,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// mount mounts fstype at rel in the tree. The mount point is opened
// beneath the tree without following any symlink (a tree can hold links
// that point out of it) and mounted through its descriptor.
func (c *chroot) mount(source, rel, fstype string, flags uintptr, data string) error {
	target := filepath.Join(c.tree, rel)
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(target, 0o755); err != nil {
			return fmt.Errorf("mount %s on /%s: %w", fstype, rel, err)
		}
		c.undo = append(c.undo, func() error { return os.Remove(target) })
	}
	return c.mountAt(source, rel, fstype, flags, data)
}

// mountAt mounts onto the existing entry rel of the tree, through an
// O_PATH descriptor that RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS opened.
func (c *chroot) mountAt(source, rel, fstype string, flags uintptr, data string) error {
	root, err := unix.Open(c.tree, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the tree: %w", err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("mount %s on /%s: %w", fstype, rel, err)
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fmt.Sprintf("/proc/self/fd/%d", fd), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on /%s: %w", fstype, rel, err)
	}
	target := filepath.Join(c.tree, rel)
	c.undo = append(c.undo, func() error { return unmount(target) })
	return nil
}

// bindDevices binds the sandbox's own device nodes over the tree's: the
// work file system the tree lives on is mounted nodev, so the nodes that
// bootstrap.DevFiles made (which stay in the tree, as in mmdebstrap's output)
// cannot be opened themselves.
func (c *chroot) bindDevices() error {
	for _, f := range bootstrap.DevFiles {
		if f.Kind != 'c' {
			continue
		}
		src := "/dev/" + f.Name
		if f.Name == "ptmx" {
			src = filepath.Join(c.tree, "dev/pts/ptmx")
		}
		if st, err := os.Stat(src); err != nil || st.Mode()&os.ModeCharDevice == 0 {
			continue // the sandbox has no such device (console)
		}
		if st, err := os.Lstat(filepath.Join(c.tree, "dev", f.Name)); err != nil || st.Mode()&os.ModeCharDevice == 0 {
			continue // not a node the tree wants
		}
		if err := c.mountAt(src, "dev/"+f.Name, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	return nil
}

func unmount(target string) error {
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// bindDebs makes the input directory visible, read-only, at debDir.
func (c *chroot) bindDebs(src string) error {
	rel := debDir[1:]
	target := filepath.Join(c.tree, rel)
	if err := os.Mkdir(target, 0o700); err != nil {
		return fmt.Errorf("prepare %s: %w", debDir, err)
	}
	c.undo = append(c.undo, func() error { return os.Remove(target) })
	// Recursive: an input that exposes only some files is a tmpfs with
	// each file bound onto it.
	if err := c.mountAt(src, rel, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	ro := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", target, "", ro, ""); err != nil {
		return fmt.Errorf("bind packages read-only: %w", err)
	}
	return nil
}

const (
	policyRcD       = "usr/sbin/policy-rc.d"
	startStopDaemon = "usr/sbin/start-stop-daemon"
	policyScript    = "#!/bin/sh\nexit 101\n"
	fakeSSD         = "#!/bin/sh\necho \"Warning: Fake start-stop-daemon called, doing nothing\" >&2\n"
)

// stopServices installs policy-rc.d (invoke-rc.d then starts nothing) and
// a start-stop-daemon that does nothing, as mmdebstrap does; Close
// removes the first and puts the real start-stop-daemon back. The second
// is done again before each dpkg run, since dpkg may have just unpacked
// the real one.
func (c *chroot) stopServices() error {
	p := filepath.Join(c.tree, policyRcD)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write policy-rc.d: %w", err)
	}
	if err := os.WriteFile(p, []byte(policyScript), 0o755); err != nil {
		return fmt.Errorf("write policy-rc.d: %w", err)
	}
	c.undo = append(c.undo, func() error { return os.Remove(p) }, c.restoreSSD)
	return c.fakeSSD()
}

// fakeSSD moves a real start-stop-daemon aside (once) and puts the
// stand-in in its place.
func (c *chroot) fakeSSD() error {
	p := filepath.Join(c.tree, startStopDaemon)
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start-stop-daemon: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("start-stop-daemon: %w", err)
	}
	if string(data) == fakeSSD {
		return nil
	}
	if err := os.Rename(p, p+".REAL"); err != nil {
		return fmt.Errorf("move start-stop-daemon aside: %w", err)
	}
	if err := os.WriteFile(p, []byte(fakeSSD), 0o755); err != nil {
		return fmt.Errorf("write start-stop-daemon stand-in: %w", err)
	}
	return nil
}

func (c *chroot) restoreSSD() error {
	p := filepath.Join(c.tree, startStopDaemon)
	if _, err := os.Lstat(p + ".REAL"); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.Rename(p+".REAL", p); err != nil {
		return fmt.Errorf("restore start-stop-daemon: %w", err)
	}
	return nil
}

// Close undoes what enterChroot did, in reverse order.
func (c *chroot) Close() error {
	var errs []error
	for i := len(c.undo) - 1; i >= 0; i-- {
		errs = append(errs, c.undo[i]())
	}
	c.undo = nil
	return errors.Join(errs...)
}
