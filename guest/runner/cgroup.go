package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxProcesses is Config.MaxProcesses when zero: the tasks
// (processes and threads) one stage may have at once. A build's tools need
// tens; a stage that reaches it forks without end.
const DefaultMaxProcesses = 1024

// cgroup is the cgroup (v2) of one setup process and so of its stage:
// everything the stage forks lands in it, and its pids.max bounds them.
// A nil *cgroup, for a runner without Config.Cgroup, limits nothing.
type cgroup struct {
	dir string
	max int
}

// newCgroup makes the cgroup name under parent with pids.max set, and
// opens it for clone3's CLONE_INTO_CGROUP (exec.Cmd's UseCgroupFD), so
// the setup process starts inside it.
func newCgroup(parent, name string, max int) (*cgroup, *os.File, error) {
	c := &cgroup{dir: filepath.Join(parent, name), max: max}
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("make cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "pids.max"), []byte(strconv.Itoa(max)), 0); err != nil {
		os.Remove(c.dir)
		return nil, nil, fmt.Errorf("limit cgroup %s: %w", c.dir, err)
	}
	f, err := os.Open(c.dir)
	if err != nil {
		os.Remove(c.dir)
		return nil, nil, fmt.Errorf("open cgroup: %w", err)
	}
	return c, f, nil
}

// limitHit reports whether a fork was refused for pids.max.
func (c *cgroup) limitHit() bool {
	if c == nil {
		return false
	}
	data, err := os.ReadFile(filepath.Join(c.dir, "pids.events"))
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if n, ok := bytes.CutPrefix(line, []byte("max ")); ok {
			count, err := strconv.Atoi(string(n))
			return err == nil && count > 0
		}
	}
	return false
}

// kill SIGKILLs every process in the cgroup at once.
func (c *cgroup) kill() {
	if c != nil {
		os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0)
	}
}

// watchInterval is how often a running stage's cgroup is looked at.
const watchInterval = 100 * time.Millisecond

// watch kills the stage as soon as one of its forks is refused, until
// ctx ends: a stage at the limit is forking without end, and would spin
// there until its timeout, if it has one.
func (c *cgroup) watch(ctx context.Context) {
	if c == nil {
		return
	}
	go func() {
		tick := time.NewTicker(watchInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if c.limitHit() {
					c.kill()
					return
				}
			}
		}
	}()
}

// remove kills what is left in the cgroup and removes it, waiting a
// little for the processes to be gone (rmdir fails while any is).
func (c *cgroup) remove() error {
	if c == nil {
		return nil
	}
	c.kill()
	var err error
	for range 100 {
		if err = unix.Rmdir(c.dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
}
