package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// setupChildren lists this process's children that are setup processes.
func setupChildren(t *testing.T) []int {
	t.Helper()
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), sandbox.SetupArg) {
			continue
		}
		if ppid(pid) == os.Getpid() && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func ppid(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	n, _ := strconv.Atoi(f[1])
	return n
}

func zombie(pid int) bool {
	stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func threads(pid int) int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	return len(ents)
}

// eventually polls cond for up to two seconds.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestSpareLifecycle(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	c := client(t, r)
	openTree(t, c, "t", "")
	// tree.open starts the spares for the stages to come.
	if !eventually(func() bool { return len(setupChildren(t)) == r.cfg.Spares }) {
		t.Fatalf("setup processes after tree.open: %v, want %d spares", setupChildren(t), r.cfg.Spares)
	}
	p := jsoncomm.StageRunParams{Tree: "t", Type: "org.test.noop"}
	for i := 0; i < 3; i++ {
		if res, err := runStage(t, c, p, &logs{}); err != nil || !res.Success {
			t.Fatalf("noop %d: %+v %v", i, res, err)
		}
		r.exiting.Wait()
		if n := len(setupChildren(t)); n > r.cfg.Spares {
			t.Fatalf("after stage %d: %d setup processes, want at most the %d spares", i, n, r.cfg.Spares)
		}
	}
	// Spares that died waiting are replaced on the spot.
	eventually(func() bool { return len(setupChildren(t)) == r.cfg.Spares })
	for _, pid := range setupChildren(t) {
		syscall.Kill(pid, syscall.SIGKILL)
		// Gone with all its threads, not just its leader a zombie.
		eventually(func() bool { return zombie(pid) && threads(pid) <= 1 })
	}
	if res, err := runStage(t, c, p, &logs{}); err != nil || !res.Success {
		t.Fatalf("noop after the spare was killed: %+v %v", res, err)
	}
	r.Close()
	if pids := setupChildren(t); len(pids) != 0 {
		t.Fatalf("setup processes after Close: %v", pids)
	}
	// Stages still run after Close, and leave nothing behind: the setup
	// process exits right after it reported the stage's end.
	if res, err := runStage(t, c, p, &logs{}); err != nil || !res.Success {
		t.Fatalf("noop after Close: %+v %v", res, err)
	}
	r.exiting.Wait()
	if pids := setupChildren(t); len(pids) != 0 {
		t.Fatalf("setup processes after a stage past Close: %v", pids)
	}
}

// TestCloseWhileStarting closes the runner right after a spare began to
// start: Close waits for it and ends it.
func TestCloseWhileStarting(t *testing.T) {
	needRoot(t)
	for i := 0; i < 5; i++ {
		r := newRunner(t)
		r.refill()
		r.Close()
		if pids := setupChildren(t); len(pids) != 0 {
			t.Fatalf("round %d: setup processes after Close: %v", i, pids)
		}
	}
}

// TestSpareWithoutSpec checks a setup process whose spec pipe ends with
// nothing in it exits quietly with status 0, having touched nothing.
func TestSpareWithoutSpec(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	sp, err := r.spawn()
	if err != nil {
		t.Fatal(err)
	}
	sp.spec.Close()
	err = sp.cmd.Wait()
	sp.close()
	if err != nil || sp.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("spare without spec: %v", err)
	}
}

// TestNoSpares checks Config.Spares < 0: no process is started ahead, and
// each stage starts its own.
func TestNoSpares(t *testing.T) {
	needRoot(t)
	r := newRunner(t)
	r.cfg.Spares = -1
	c := client(t, r)
	openTree(t, c, "t", "")
	if res, err := runStage(t, c, jsoncomm.StageRunParams{Tree: "t", Type: "org.test.noop"}, &logs{}); err != nil || !res.Success {
		t.Fatalf("noop: %+v %v", res, err)
	}
	time.Sleep(100 * time.Millisecond)
	if pids := setupChildren(t); len(pids) != 0 {
		t.Fatalf("setup processes with no spares: %v", pids)
	}
}
