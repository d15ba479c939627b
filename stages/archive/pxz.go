package archive

import (
	"bytes"
	"fmt"
	"io"
	"runtime"

	"github.com/ulikunitz/xz"
)

// xzChunkSize is how much input each xz stream holds. Go's xz writer is
// single-threaded and several times slower than xz(1), so the input is cut
// into chunks of this fixed size, compressed in parallel into independent
// xz streams, and the streams are concatenated in order (the xz format
// allows that and every decoder reads it). The size is fixed, not derived
// from the CPU count, so the bytes do not depend on the machine.
const xzChunkSize = 16 << 20

// parallelXz is an io.WriteCloser producing concatenated xz streams.
type parallelXz struct {
	w       io.Writer
	cfg     xz.WriterConfig
	chunk   int
	workers int
	buf     []byte
	pending []chan xzResult
	streams int
	err     error
}

type xzResult struct {
	data []byte
	err  error
}

func newParallelXz(w io.Writer, cfg xz.WriterConfig, chunk, workers int) (*parallelXz, error) {
	if err := cfg.Verify(); err != nil {
		return nil, fmt.Errorf("xz writer: %w", err)
	}
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &parallelXz{w: w, cfg: cfg, chunk: chunk, workers: workers}, nil
}

func (p *parallelXz) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n := len(b)
	for len(b) > 0 {
		take := min(p.chunk-len(p.buf), len(b))
		p.buf = append(p.buf, b[:take]...)
		b = b[take:]
		if len(p.buf) == p.chunk {
			p.submit()
		}
	}
	return n, p.err
}

// submit hands the buffered chunk to a worker, first writing out the
// oldest result when all workers are busy.
func (p *parallelXz) submit() {
	if len(p.pending) >= p.workers {
		p.writeOldest()
	}
	block := p.buf
	p.buf = make([]byte, 0, p.chunk)
	ch := make(chan xzResult, 1)
	go func() { ch <- xzStream(p.cfg, block) }()
	p.pending = append(p.pending, ch)
	p.streams++
}

func (p *parallelXz) writeOldest() {
	res := <-p.pending[0]
	p.pending = p.pending[1:]
	if p.err != nil {
		return
	}
	if p.err = res.err; p.err == nil {
		_, p.err = p.w.Write(res.data)
	}
}

func xzStream(cfg xz.WriterConfig, block []byte) xzResult {
	var out bytes.Buffer
	zw, err := cfg.NewWriter(&out)
	if err == nil {
		_, err = zw.Write(block)
	}
	if err == nil {
		err = zw.Close()
	}
	return xzResult{out.Bytes(), err}
}

// Close compresses what is left (an empty input still gets one stream)
// and writes every stream out in order.
func (p *parallelXz) Close() error {
	if len(p.buf) > 0 || p.streams == 0 {
		p.submit()
	}
	for len(p.pending) > 0 {
		p.writeOldest()
	}
	return p.err
}
