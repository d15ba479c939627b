package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// mountOsbuild lays out /run/osbuild (dir, on the fresh /run tmpfs).
func mountOsbuild(spec *Spec, dir string) error {
	if err := mkdirOsbuild(dir); err != nil {
		return err
	}
	if err := bind(spec.API, filepath.Join(dir, "api"), unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV); err != nil {
		return err
	}
	if err := bindFile(spec.Meta, filepath.Join(dir, "meta"), 0); err != nil {
		return err
	}
	if err := bind(spec.Tree, filepath.Join(dir, "tree"), 0); err != nil {
		return err
	}
	bin := filepath.Join(dir, spec.Bin[len("/run/osbuild/"):])
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return fmt.Errorf("/run/osbuild: %w", err)
	}
	if err := bindFile(spec.Executable, bin, unix.MS_RDONLY|unix.MS_NODEV); err != nil {
		return err
	}
	for i, in := range spec.Inputs {
		if err := mountInput(in, filepath.Join(dir, "inputs", in.Name), filepath.Join(spec.Staging, strconv.Itoa(i))); err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	return nil
}

// mkdirOsbuild makes /run/osbuild's mount points (dir) when missing.
func mkdirOsbuild(dir string) error {
	for _, d := range []string{"api", "tree", "inputs", "mounts", "bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("/run/osbuild: %w", err)
		}
	}
	return nil
}

// bindFile binds regular file src onto a new empty file dst.
func bindFile(src, dst string, flags uintptr) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("bind %s: %w", src, classify(err))
	}
	if !fi.Mode().IsRegular() {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "bind %s: not a regular file", src)
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	f.Close()
	return bind(src, dst, flags)
}

// mountInput exposes an input read-only at dst: the whole of Source, or
// only its Files, each bound from a read-only staging bind onto a tmpfs
// that is then made read-only too.
func mountInput(in Input, dst, staging string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	ro := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if len(in.Files) == 0 {
		return bind(in.Source, dst, ro)
	}
	if err := os.Mkdir(staging, 0o700); err != nil {
		return err
	}
	if err := bind(in.Source, staging, ro); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	for _, name := range in.Files {
		if err := bindBeneath(staging, name, dst); err != nil {
			return err
		}
	}
	return remountRO(dst, unix.MS_NOSUID|unix.MS_NODEV)
}

// bindBeneath binds the regular file rel of dir (opened without leaving
// dir or following a symlink) onto a new empty file rel below dst, whose
// missing directories it makes.
func bindBeneath(dir, rel, dst string) error {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bind %s: %w", rel, classify(err))
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return fmt.Errorf("bind %s: %w", rel, classify(err))
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "bind %s: not a regular file", rel)
	}
	target := filepath.Join(dst, rel)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("bind %s: %w", rel, err)
	}
	f.Close()
	return bind(fmt.Sprintf("/proc/self/fd/%d", fd), target, 0)
}
