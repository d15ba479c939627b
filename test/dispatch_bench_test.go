package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
// (boot and export left out), as a median over the iterations.
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
	ours, base := map[string][]float64{}, map[string][]float64{}
	for b.Loop() {
		for _, arch := range arches {
			ours[arch] = append(ours[arch], perStage(b, inProcessCLI, arch, kernels[arch], short, long))
			if baseline != "" {
				base[arch] = append(base[arch], perStage(b, binaryCLI(baseline), arch, kernels[arch], short, long))
			}
		}
	}
	for _, arch := range arches {
		b.ReportMetric(medianF(ours[arch]), arch+"-ms/stage")
		fmt.Printf("stage dispatch %s: %.1f ms/stage (runs %.1f)\n", arch, medianF(ours[arch]), ours[arch])
		if baseline != "" {
			b.ReportMetric(medianF(base[arch]), arch+"-baseline-ms/stage")
			fmt.Printf("stage dispatch %s baseline %s: %.1f ms/stage (runs %.1f)\n", arch, baseline, medianF(base[arch]), base[arch])
		}
	}
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
// their spans in milliseconds.
func perStage(b *testing.B, run cliRunner, arch, kernel, short, long string) float64 {
	s := stageSpan(b, run, arch, kernel, short, 1)
	l := stageSpan(b, run, arch, kernel, long, 1+dispatchChain)
	return float64(l-s) / float64(time.Millisecond) / dispatchChain
}

// stageSpan builds manifest (n noop stages) and returns the time from the
// first stage's start line to the last stage's done line.
func stageSpan(b *testing.B, run cliRunner, arch, kernel, manifest string, n int) time.Duration {
	first := fmt.Sprintf("stage 1/%d org.osbuild.noop (", n)
	last := fmt.Sprintf("stage %d/%d org.osbuild.noop done", n, n)
	var mu sync.Mutex
	var begin, end time.Time
	out := &syncBuffer{on: func(s string) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if begin.IsZero() && strings.Contains(s, first) {
			begin = now
		}
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
	return end.Sub(begin)
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
