package runner

import (
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// minWorkFree is the free space below which the working file system
// counts as full when a stage fails: a write that failed for space leaves
// less than one of its buffers.
const minWorkFree = 1 << 20

// bounded explains a stage that ran into one of the VM's bounds: one that
// forked past MaxProcesses (and was killed for it), or one that failed
// with the working file system full, which its own message may not say.
// A stage that ends well, or fails for its own reasons, is nil here.
func (r *Runner) bounded(p *jsoncomm.StageRunParams, hitLimit bool, code int) error {
	if hitLimit {
		return fmt.Errorf("stage %s: more than %d processes at once (forking without end); killed: %w",
			p.Type, r.cfg.MaxProcesses, jsoncomm.ErrStageFailed)
	}
	if code == 0 {
		return nil
	}
	if full, size := workFull(r.cfg.WorkDir); full {
		return fmt.Errorf("stage %s: exit status %d: no space left on the build VM's working file system (%s, all of it used); the VM's --memory sizes it: %w",
			p.Type, code, size, jsoncomm.ErrStageFailed)
	}
	return nil
}

// workFull reports whether dir's file system has no room left, in space
// or in inodes, and its size for the message.
func workFull(dir string) (bool, string) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, ""
	}
	free := st.Bavail * uint64(st.Bsize)
	full := free < minWorkFree || (st.Files > 0 && st.Ffree == 0)
	return full, fmt.Sprintf("%.1f GiB", float64(st.Blocks*uint64(st.Bsize))/(1<<30))
}
