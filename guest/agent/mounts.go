package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// kernelMount is one file system PID 1 mounts before anything else.
type kernelMount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

var kernelMounts = []kernelMount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
}

// mountKernelFS mounts /proc, /sys, /dev, /run and /tmp. A file system that
// is already there (EBUSY) is fine: the kernel may have mounted devtmpfs.
func mountKernelFS() error {
	for _, m := range kernelMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", m.target, err)
		}
		err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// workSize is the size limit of the work tmpfs: all of memory but a
// reserve for the kernel, the agent and the stages' own processes, and at
// least half. tmpfs takes memory only as files fill it.
func workSize(totalRAM uint64) uint64 {
	const reserve = 384 << 20
	if totalRAM < 2*reserve {
		return totalRAM / 2
	}
	return totalRAM - reserve
}

// mountWork mounts the tmpfs that working trees live on.
func mountWork() error {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return fmt.Errorf("mount %s: sysinfo: %w", WorkDir, err)
	}
	size := workSize(uint64(si.Totalram) * uint64(si.Unit))
	if err := os.MkdirAll(WorkDir, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", WorkDir, err)
	}
	data := "mode=0755,huge=within_size,size=" + strconv.FormatUint(size, 10)
	if err := unix.Mount("tmpfs", WorkDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", WorkDir, err)
	}
	return nil
}

// CgroupDir is where the agent mounts the cgroup v2 file system.
const CgroupDir = "/sys/fs/cgroup"

// mountCgroup mounts cgroup2 and hands the pids controller to the root's
// children, where the runner puts each stage (runner.Config.Cgroup). It
// returns the directory for the runner.
func mountCgroup() (string, error) {
	if err := unix.Mount("cgroup2", CgroupDir, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return "", fmt.Errorf("mount cgroup2 on %s: %w", CgroupDir, err)
	}
	control := CgroupDir + "/cgroup.subtree_control"
	if err := os.WriteFile(control, []byte("+pids"), 0); err != nil {
		return "", fmt.Errorf("enable the pids controller in %s: %w", control, err)
	}
	return CgroupDir, nil
}

// retry calls f until it succeeds, fails with an error retryable does not
// accept, or wait has passed. Devices appear asynchronously after their
// driver loads; polling briefly is cheaper than watching uevents.
func retry(wait time.Duration, retryable func(error) bool, f func() error) error {
	deadline := time.Now().Add(wait)
	for {
		err := f()
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}
