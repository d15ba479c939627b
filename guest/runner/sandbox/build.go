package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// apiDirs are the mount points every root needs.
var apiDirs = []string{"dev", "proc", "sys", "run", "tmp"}

// build assembles the stage's root and enters it: at spec.Mountpoint, or
// with what a spare prepared ahead (nil when it did not).
func build(spec *Spec, a *ahead) error {
	if a == nil {
		return buildAll(spec)
	}
	root := a.minimalRoot()
	if spec.Root != "" {
		root = spec.Mountpoint
		if err := mountRoot(spec.Root, root); err != nil {
			return err
		}
	}
	if err := a.moveInto(root); err != nil {
		return err
	}
	return finishRoot(spec, root)
}

// finishRoot adds what depends on the spec to a root whose API file
// systems are in place, and enters it.
func finishRoot(spec *Spec, root string) error {
	if err := makeNodes(spec, filepath.Join(root, "dev")); err != nil {
		return err
	}
	if err := mountOsbuild(spec, filepath.Join(root, "run/osbuild")); err != nil {
		return err
	}
	if err := mountAll(spec, root); err != nil {
		return err
	}
	return enterRoot(root)
}

// buildAll makes every mount of the stage's root at spec.Mountpoint.
func buildAll(spec *Spec) error {
	if err := makePrivate(); err != nil {
		return err
	}
	root := spec.Mountpoint
	if err := mountRoot(spec.Root, root); err != nil {
		return err
	}
	if err := mountAPIAt(root); err != nil {
		return err
	}
	if spec.Root == "" {
		if err := remountRO(root, 0); err != nil {
			return err
		}
	}
	return finishRoot(spec, root)
}

// mountRoot puts the build root read-only at root, or an empty tmpfs with
// just the mount points when there is no build root.
func mountRoot(buildRoot, root string) error {
	if buildRoot != "" {
		if hasMountpoints(buildRoot) {
			return bind(buildRoot, root, unix.MS_RDONLY)
		}
		return mountSkeleton(buildRoot, root)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount minimal root: %w", err)
	}
	for _, d := range apiDirs {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("minimal root: %w", err)
		}
	}
	return nil
}

// hasMountpoints says whether the build root has real directories where
// the API filesystems go (mount(2) would follow a symlink there in the
// agent's view, not the build root's), so it can be bound as a whole.
func hasMountpoints(buildRoot string) bool {
	for _, d := range apiDirs {
		fi, err := os.Lstat(filepath.Join(buildRoot, d))
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// mountSkeleton serves a build root that lacks some mount points (a tree
// unpacked from packages alone has no /dev or /proc, say): root becomes a
// read-only tmpfs holding the build root's top-level entries, directories
// and files bound read-only and symlinks copied, plus real directories for
// the API filesystems, as osbuild's bwrap-made roots are.
func mountSkeleton(buildRoot, root string) error {
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount build root skeleton: %w", err)
	}
	entries, err := os.ReadDir(buildRoot)
	if err != nil {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "build root %s: %v", buildRoot, err)
	}
	for _, e := range entries {
		if slices.Contains(apiDirs, e.Name()) {
			continue
		}
		if err := skeletonEntry(buildRoot, root, e); err != nil {
			return fmt.Errorf("build root skeleton /%s: %w", e.Name(), err)
		}
	}
	for _, d := range apiDirs {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("build root skeleton: %w", err)
		}
	}
	return remountRO(root, unix.MS_NOSUID|unix.MS_NODEV)
}

// skeletonEntry mirrors one top-level entry of the build root.
func skeletonEntry(buildRoot, root string, e os.DirEntry) error {
	src, dst := filepath.Join(buildRoot, e.Name()), filepath.Join(root, e.Name())
	switch {
	case e.Type()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case e.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
		return bind(src, dst, unix.MS_RDONLY)
	case e.Type().IsRegular():
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return err
		}
		return bind(src, dst, unix.MS_RDONLY)
	}
	return nil // sockets, devices and fifos at the top level are left out
}

// mountAPIAt mounts /dev, /proc, /sys, /run and /tmp below root.
func mountAPIAt(root string) error {
	if err := mountDev(filepath.Join(root, "dev")); err != nil {
		return err
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := mountSys(filepath.Join(root, "sys")); err != nil {
		return err
	}
	for _, t := range []struct{ dir, mode string }{{"run", "0755"}, {"tmp", "1777"}} {
		if err := unix.Mount("tmpfs", filepath.Join(root, t.dir), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode="+t.mode); err != nil {
			return fmt.Errorf("mount /%s: %w", t.dir, err)
		}
	}
	return nil
}

func mountSys(dir string) error {
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("sysfs", dir, "sysfs", flags, ""); err == nil {
		return nil
	}
	// sysfs refuses a new mount without a new network namespace in some
	// setups; a read-only bind of the agent's shows the same.
	if err := unix.Mount("/sys", dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount /sys: %w", err)
	}
	return remountRO(dir, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
}

// bind mounts src on dst (which must exist), read-only when flags has
// MS_RDONLY. A bind of a read-only mount stays read-only.
func bind(src, dst string, flags uintptr) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, classify(err))
	}
	if flags == 0 {
		return nil
	}
	return remountRO(dst, flags&^unix.MS_RDONLY)
}

func remountRO(dir string, flags uintptr) error {
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|flags, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", dir, err)
	}
	return nil
}
