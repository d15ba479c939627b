package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
)

// The store fault tests build the example (and a variant of it that
// shares its first stages) with every stage a checkpoint, so that runs
// commit objects, share them, and race for them.

// helloVariant writes the example with another hostname: the same first
// two stages (mkdir, copy), different objects from the third on, and the
// same artifact name.
func helloVariant(t *testing.T, hostname string) string {
	t.Helper()
	data, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	tree := m["pipelines"].([]any)[0].(map[string]any)
	for _, s := range tree["stages"].([]any) {
		if stage := s.(map[string]any); stage["type"] == "org.osbuild.hostname" {
			stage["options"] = map[string]any{"hostname": hostname}
		}
	}
	return writeJSON(t, hostname+".json", m)
}

// buildArgs are the flags of a run of manifest on store that commits
// every stage and exports the artifact to out.
func buildArgs(t *testing.T, store, out, manifest string, extra ...string) []string {
	args := []string{"run", "--arch", "amd64", "--vm-kernel", kernelDir(t, "amd64"), "--store", store,
		"--memory", "512MiB", "--checkpoint", "*", "--output-directory", out, "--export", "archive"}
	return append(append(args, extra...), manifest)
}

// artifact reads what a run exported to out.
func artifact(t *testing.T, out string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "archive", "hello.tar"))
	if err != nil {
		t.Fatalf("the run exported no artifact: %v", err)
	}
	return b
}

// lone is the artifact of a manifest built alone on a fresh store, how
// long it took until its first stage began (mostly the VM's boot), and
// how many lines of progress it printed.
type lone struct {
	data  []byte
	boot  time.Duration
	lines int
}

var lones sync.Map // manifest content -> *lone

// loneRun builds manifest alone on a fresh store, once per manifest
// content and test binary.
func loneRun(t *testing.T, manifest string) *lone {
	t.Helper()
	content, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := lones.Load(string(content)); ok {
		return l.(*lone)
	}
	out := t.TempDir()
	var stageAt time.Time
	log := &syncBuffer{on: func(s string) {
		if stageAt.IsZero() && strings.Contains(s, "stage 1/") {
			stageAt = time.Now()
		}
	}}
	start := time.Now()
	err = runCLI(context.Background(), io.Discard, log, buildArgs(t, t.TempDir(), out, manifest, "--cache-max-size", "unlimited")...)
	if err != nil || stageAt.IsZero() {
		t.Fatalf("lone run of %s: %v\n%s", manifest, err, log.String())
	}
	l := &lone{data: artifact(t, out), boot: stageAt.Sub(start), lines: strings.Count(log.String(), "\n")}
	lones.Store(string(content), l)
	return l
}

// storeSound fails t when store.Check finds anything in dir; leftovers of
// dead runs are allowed when leftovers is set.
func storeSound(t *testing.T, dir string, leftovers bool) {
	t.Helper()
	ps, err := store.Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !p.Leftover || !leftovers {
			t.Errorf("store: %v", p)
		}
	}
}

// noProcessesOn fails t when a process (QEMU, virtiofsd, their wrappers)
// still names dir on its command line, after giving the kernel's
// parent-death signals a moment.
func noProcessesOn(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pids := vmtest.ProcessesMentioning(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived their run on %s: %v", dir, pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConcurrentRunsOneStore runs two osbuild-vm processes on one store at
// once, with the same manifest and with different ones sharing stages:
// both succeed, each exports what a lone run exports, and the store is
// sound afterwards.
func TestConcurrentRunsOneStore(t *testing.T) {
	variant := helloVariant(t, "concurrent")
	cases := []struct {
		name      string
		manifests [2]string
	}{
		{"same manifest", [2]string{hello, hello}},
		{"different manifests", [2]string{hello, variant}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := t.TempDir()
			var wg sync.WaitGroup
			outs := [2]string{t.TempDir(), t.TempDir()}
			for i, m := range tc.manifests {
				loneRun(t, m) // before the clock of the concurrent runs starts
				cmd, log := cliCommand(buildArgs(t, st, outs[i], m, "--cache-max-size", "unlimited")...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if code := exitCode(cmd.Wait()); code != 0 {
						t.Errorf("run %d of %s: exit %d\n%s", i, m, code, log.String())
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			for i, m := range tc.manifests {
				if !bytes.Equal(artifact(t, outs[i]), loneRun(t, m).data) {
					t.Errorf("run %d of %s exported other bytes than a lone run", i, m)
				}
			}
			storeSound(t, st, false)
			noProcessesOn(t, st)
		})
	}
}

// killSeedEnv replays TestKillAtRandomMoments with the seed it printed.
const killSeedEnv = "OSBUILD_VM_KILL_SEED"

// kills is how many times TestKillAtRandomMoments kills a run.
const kills = 20

// killCacheLimit fits about three objects (30-50 KB each), so every run
// evicts what the run before committed, and builds and commits again
// nearly all of its manifest.
const killCacheLimit = "128KiB"

// TestKillAtRandomMoments SIGKILLs osbuild-vm runs on one store at twenty
// random moments (seeded; the seed is printed to replay a failure): just
// after a random line of its progress, so that kills fall into boots,
// stages, commits, evictions and exports alike. After each kill no QEMU or
// virtiofsd of the run is left, the store holds no torn object, and the
// next run on the same store succeeds and exports the bytes of a lone run
// on a fresh store. The runs alternate between two manifests that share
// their first stages, and the cache is kept small, so that each builds,
// commits and evicts.
func TestKillAtRandomMoments(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(killSeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", killSeedEnv, s, err)
		}
		seed = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay this test with %s=%d", killSeedEnv, seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	manifests := []string{hello, helloVariant(t, "killed")}
	st := t.TempDir()
	killed := 0
	for i := 0; killed < kills; i++ {
		if i == 2*kills {
			t.Fatalf("only %d of %d runs were killed before they ended", killed, i)
		}
		m := manifests[i%len(manifests)]
		ref := loneRun(t, m)
		out := t.TempDir()
		how, ok := killOne(t, rng, ref, buildArgs(t, st, out, m, "--cache-max-size", killCacheLimit)...)
		if !ok { // it ended by itself: then it is the run to check
			t.Logf("run %d (%s): %s", i+1, filepath.Base(m), how)
			sameArtifact(t, out, ref, "a run that ended by itself")
			continue
		}
		killed++
		t.Logf("run %d, kill %d/%d (%s): %s", i+1, killed, kills, filepath.Base(m), how)
		noProcessesOn(t, st)
		storeSound(t, st, true)
		next := t.TempDir()
		r := osbuildVM(context.Background(), t, buildArgs(t, st, next, m, "--cache-max-size", killCacheLimit)...)
		if r.code != 0 {
			t.Fatalf("the run after kill %d: exit %d\n%s", killed, r.code, r.stderr)
		}
		sameArtifact(t, next, ref, fmt.Sprintf("the run after kill %d", killed))
		if t.Failed() {
			return
		}
	}
	storeSound(t, st, false)
}

func sameArtifact(t *testing.T, out string, ref *lone, what string) {
	t.Helper()
	if !bytes.Equal(artifact(t, out), ref.data) {
		t.Fatalf("%s exported other bytes than a lone run on a fresh store", what)
	}
}

// killOne starts a run and SIGKILLs it at a random moment: within the
// boot's time from its start, or just after a random line of its
// progress. It reports when and in which phase the run died, or false
// when the run ended by itself first (successfully, or it fails t).
func killOne(t *testing.T, rng *rand.Rand, ref *lone, args ...string) (string, bool) {
	t.Helper()
	cmd, log := cliCommand(args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	line := rng.IntN(ref.lines + 1)
	window, from := ref.boot, "its start"
	if line > 0 {
		window, from = 250*time.Millisecond, fmt.Sprintf("progress line %d", line)
		waitForLines(log, line, done)
	}
	delay := time.Duration(rng.Int64N(int64(window)))
	select {
	case err := <-done:
		if code := exitCode(err); code != 0 {
			t.Fatalf("a run to kill failed by itself: exit %d\n%s", code, log.String())
		}
		return fmt.Sprintf("ended by itself before %v after %s", delay.Round(time.Millisecond), from), false
	case <-time.After(delay):
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	return fmt.Sprintf("killed %v after %s, during %q", delay.Round(time.Millisecond), from, lastLine(log.String())), true
}

// waitForLines waits until the run printed n lines or ended.
func waitForLines(log *syncBuffer, n int, done chan error) {
	for strings.Count(log.String(), "\n") < n {
		select {
		case err := <-done:
			done <- err
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
