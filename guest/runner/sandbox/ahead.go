package sandbox

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ahead is what a setup process built before its spec arrived, in the
// directory the runner named (argv[2]): a tmpfs holding the API
// filesystems every stage gets, each ready to be moved into the stage's
// root, and a complete read-only minimal root for stages without a build
// root. Under TCG these mounts cost a large part of a small stage; a spare
// builds them while earlier stages run. Nothing in them depends on the
// spec: /dev, /proc (of the process's own PID namespace), /sys, fresh
// /run (with /run/osbuild's empty mount points) and /tmp.
//
//	<dir>/             tmpfs, 0700
//	    dev proc sys run tmp   the API filesystems (mountAPI)
//	    min/           the minimal root: read-only tmpfs, empty mount points
type ahead struct {
	dir string
}

// prepareAhead builds the spec-independent mounts at dir, after making
// every mount of the new namespace private so that none of this reaches
// the agent. It returns nil when dir is empty or anything fails: build
// then makes every mount itself, as it reports its own errors.
func prepareAhead(dir string) *ahead {
	if dir == "" || makePrivate() != nil {
		return nil
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size=64k"); err != nil {
		return nil
	}
	for _, d := range append([]string{"min"}, apiDirs...) {
		if unix.Mkdir(filepath.Join(dir, d), 0o755) != nil {
			return nil
		}
	}
	if mountAPIAt(dir) != nil || mkdirOsbuild(filepath.Join(dir, "run/osbuild")) != nil {
		return nil
	}
	if mountRoot("", filepath.Join(dir, "min")) != nil || remountRO(filepath.Join(dir, "min"), 0) != nil {
		return nil
	}
	return &ahead{dir: dir}
}

// minimalRoot is the prepared minimal root.
func (a *ahead) minimalRoot() string { return filepath.Join(a.dir, "min") }

// moveInto moves the prepared API filesystems to their places below root,
// with the mounts below them (/dev/pts, /dev/shm).
func (a *ahead) moveInto(root string) error {
	for _, d := range apiDirs {
		if err := unix.Mount(filepath.Join(a.dir, d), filepath.Join(root, d), "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move /%s into the root: %w", d, err)
		}
	}
	return nil
}

func makePrivate() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	return nil
}
