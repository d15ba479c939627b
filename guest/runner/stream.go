package runner

import (
	"bufio"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// MaxLogLine bounds one log message: a longer line arrives in pieces.
const MaxLogLine = 16 << 10

// MaxStageOutput bounds what of one stage's output (stdout and stderr
// together) goes to the host. A stage, which nothing trusts, may print
// without end; every byte sent costs the channel, the host's monitor and
// whatever reads it. Beyond the bound the output is read and dropped, so
// the stage never blocks on a full pipe, and the host hears once that it
// was.
const MaxStageOutput = 16 << 20

// outputBudget is what is left of one stage's MaxStageOutput, shared by
// its two streams.
type outputBudget struct {
	left  atomic.Int64
	noted atomic.Bool
}

func newOutputBudget(n int64) *outputBudget {
	b := &outputBudget{}
	b.left.Store(n)
	return b
}

// take spends n bytes, reporting false once the budget is spent.
func (b *outputBudget) take(n int) bool { return b.left.Add(-int64(n)) >= 0 }

// streamLines sends each line of r, with its newline, as a log message of
// stream, as soon as it is complete, until r ends or the budget is spent;
// then it says so (once per stage) and drains r. A line longer than
// MaxLogLine arrives in pieces; only the last piece ends in a newline, so
// the host can put the line together again.
func streamLines(r io.Reader, stream string, budget *outputBudget, log func(jsoncomm.Log)) {
	br := bufio.NewReaderSize(r, MaxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if !budget.take(len(line)) {
				if !budget.noted.Swap(true) {
					log(jsoncomm.Log{Stream: stream, Text: fmt.Sprintf(
						"osbuild-vm: the stage printed more than %d MiB; the rest of its output is dropped\n", MaxStageOutput>>20)})
				}
				drain(br)
				return
			}
			log(jsoncomm.Log{Stream: stream, Text: string(line)})
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// drain reads r to its end in large pieces, keeping nothing.
func drain(r io.Reader) {
	buf := make([]byte, 256<<10)
	for {
		if _, err := r.Read(buf); err != nil {
			return
		}
	}
}
