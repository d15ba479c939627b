package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
)

// dispatchChain is how many stages the long manifest has beyond the one of
// the short one.
const dispatchChain = 40

// BenchmarkStageDispatch measures what one stage costs beyond its own
// work: it builds, one VM run each, a pipeline of 1 and of 1+40
// org.osbuild.noop stages and reports (span41 - span1)/40, where a span
// runs from the first stage's start line to the last stage's done line
// (boot and export left out), as a median over the iterations. On a busy
// host a span catches every stall of the VM, so it also reports the median
// gap between consecutive done lines of the long run (the "gap" metric):
// the typical stage, robust to a few stalls.
//
// With $OSBUILD_VM_BENCH_BASELINE set to another osbuild-vm binary (e.g.
// one built from an older commit), it runs that binary's builds in turn
// with ours and reports its number too, measured side by side.
// $OSBUILD_VM_BENCH_ARCHES picks the architectures (default amd64).
//
// Run: go test -run '^$' -bench StageDispatch -benchtime 3x ./test/
func BenchmarkStageDispatch(b *testing.B) {
	arches := strings.Fields(os.Getenv("OSBUILD_VM_BENCH_ARCHES"))
	if len(arches) == 0 {
		arches = []string{"amd64"}
	}
	baseline := os.Getenv("OSBUILD_VM_BENCH_BASELINE")
	short, long := noopManifest(b, 1), noopManifest(b, 1+dispatchChain)
	kernels := map[string]string{}
	for _, arch := range arches {
		kernels[arch] = vmtest.Boot(b, arch).Kernel.Dir
	}
	ours, base := map[string]*dispatchRuns{}, map[string]*dispatchRuns{}
	for _, arch := range arches {
		ours[arch], base[arch] = &dispatchRuns{}, &dispatchRuns{}
	}
	for b.Loop() {
		for _, arch := range arches {
			ours[arch].add(perStage(b, inProcessCLI, arch, kernels[arch], short, long))
			if baseline != "" {
				base[arch].add(perStage(b, binaryCLI(baseline), arch, kernels[arch], short, long))
			}
		}
	}
	for _, arch := range arches {
		ours[arch].report(b, arch, "")
		if baseline != "" {
			base[arch].report(b, arch+"-baseline", " ("+baseline+")")
		}
	}
}

// dispatchRuns collects per-stage numbers over the iterations: from the
// spans and from the median gaps.
type dispatchRuns struct{ span, gap []float64 }

func (d *dispatchRuns) add(span, gap float64) {
	d.span, d.gap = append(d.span, span), append(d.gap, gap)
}

func (d *dispatchRuns) report(b *testing.B, name, note string) {
	span, gap := medianF(slices.Clone(d.span)), medianF(slices.Clone(d.gap))
	b.ReportMetric(span, name+"-ms/stage")
	b.ReportMetric(gap, name+"-gap-ms/stage")
	fmt.Printf("stage dispatch %s%s: %.1f ms/stage (runs %.1f), median gap %.1f ms (runs %.1f)\n", name, note, span, d.span, gap, d.gap)
}

// cliRunner runs osbuild-vm with args, its output going to out.
type cliRunner func(ctx context.Context, out io.Writer, args ...string) error

func inProcessCLI(ctx context.Context, out io.Writer, args ...string) error {
	return runCLI(ctx, out, out, args...)
}

// binaryCLI runs another osbuild-vm binary.
func binaryCLI(path string) cliRunner {
	return func(ctx context.Context, out io.Writer, args ...string) error {
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stdout, cmd.Stderr = out, out
		return cmd.Run()
	}
}

// perStage builds short and long and returns the per-stage difference of
// their spans and the long run's median gap, in milliseconds.
func perStage(b *testing.B, run cliRunner, arch, kernel, short, long string) (span, gap float64) {
	s, _ := stageSpan(b, run, arch, kernel, short, 1)
	l, dones := stageSpan(b, run, arch, kernel, long, 1+dispatchChain)
	gaps := make([]float64, 0, len(dones))
	for i := 1; i < len(dones); i++ {
		gaps = append(gaps, float64(dones[i].Sub(dones[i-1]))/float64(time.Millisecond))
	}
	return float64(l-s) / float64(time.Millisecond) / dispatchChain, medianF(gaps)
}

// stageSpan builds manifest (n noop stages) and returns the time from the
// first stage's start line to the last stage's done line, and when each
// done line came.
func stageSpan(b *testing.B, run cliRunner, arch, kernel, manifest string, n int) (time.Duration, []time.Time) {
	first := fmt.Sprintf("stage 1/%d org.osbuild.noop (", n)
	last := fmt.Sprintf("stage %d/%d org.osbuild.noop done", n, n)
	var mu sync.Mutex
	var begin, end time.Time
	var dones []time.Time
	out := &syncBuffer{on: func(s string) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if begin.IsZero() && strings.Contains(s, first) {
			begin = now
		}
		dones = append(dones, slices.Repeat([]time.Time{now}, strings.Count(s, " org.osbuild.noop done"))...)
		if strings.Contains(s, last) {
			end = now
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := run(ctx, out, "run", "--arch", arch, "--vm-kernel", kernel, "--store", b.TempDir(),
		"--output-directory", b.TempDir(), "--export", "tree", manifest)
	if err != nil {
		b.Fatalf("build %d noop stages for %s: %v\n%s", n, arch, err, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if begin.IsZero() || end.IsZero() {
		b.Fatalf("no stage lines for %d stages in the output:\n%s", n, out.String())
	}
	return end.Sub(begin), dones
}

// noopManifest writes a v2 manifest of one pipeline "tree" with n noop
// stages, each with distinct options (and so a distinct ID).
func noopManifest(b *testing.B, n int) string {
	type stage struct {
		Type    string         `json:"type"`
		Options map[string]int `json:"options"`
	}
	stages := make([]stage, n)
	for i := range stages {
		stages[i] = stage{Type: "org.osbuild.noop", Options: map[string]int{"i": i}}
	}
	m := map[string]any{"version": "2", "pipelines": []any{map[string]any{"name": "tree", "stages": stages}}}
	data, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), fmt.Sprintf("noop-%d.json", n))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}
