package runner

import (
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// BenchmarkStageDispatch measures one stage.run of a built-in stage that
// does nothing, in the minimal root, over the channel: the fixed cost of a
// stage.
func BenchmarkStageDispatch(b *testing.B) {
	needRoot(b)
	r := newRunner(b)
	c := client(b, r)
	openTree(b, c, "t", "")
	p := jsoncomm.StageRunParams{Tree: "t", Type: "org.test.noop", Kind: "stages"}
	var total int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var res jsoncomm.StageResult
		if err := c.Call(b.Context(), jsoncomm.MethodStageRun, p, &res, nil); err != nil || !res.Success {
			b.Fatalf("noop: %+v %v", res, err)
		}
		total += res.Millis
	}
	b.ReportMetric(float64(total)/float64(b.N), "stage-ms/op")
}

// BenchmarkShellDispatch is BenchmarkStageDispatch for a #!/bin/sh stage
// in a busybox build root.
func BenchmarkShellDispatch(b *testing.B) {
	needRoot(b)
	r := newRunner(b)
	c := client(b, r)
	buildRoot(b, c, r, "build")
	openTree(b, c, "t", "")
	p := jsoncomm.StageRunParams{Tree: "t", BuildRoot: "build", Type: "org.test.true", Kind: "stages", Executable: script(b, "exit 0\n")}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var res jsoncomm.StageResult
		if err := c.Call(b.Context(), jsoncomm.MethodStageRun, p, &res, nil); err != nil || !res.Success {
			b.Fatalf("true: %+v %v", res, err)
		}
	}
}
