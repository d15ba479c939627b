package vm

import "golang.org/x/sys/unix"

type sysinfo struct{}

// totalMiB is the host's RAM, or 0 when unknown.
func (sysinfo) totalMiB() int {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int(uint64(si.Totalram) * uint64(si.Unit) >> 20)
}
