package runner

import (
	"bufio"
	"io"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// MaxLogLine bounds one log message: a longer line arrives in pieces.
const MaxLogLine = 16 << 10

// streamLines sends each line of r, with its newline, as a log message of
// stream, as soon as it is complete, until r ends. A line longer than
// MaxLogLine arrives in pieces; only the last piece ends in a newline, so
// the host can put the line together again.
func streamLines(r io.Reader, stream string, log func(jsoncomm.Log)) {
	br := bufio.NewReaderSize(r, MaxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			log(jsoncomm.Log{Stream: stream, Text: string(line)})
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
