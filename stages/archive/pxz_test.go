package archive

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ulikunitz/xz"
)

func TestParallelXzIndependentOfWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	input := make([]byte, 100_000)
	for i := range input {
		input[i] = byte('a' + rng.IntN(4))
	}
	for _, size := range []int{0, 1, 4096, 30_000, 100_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var outs [][]byte
			for _, workers := range []int{1, 3} {
				var buf bytes.Buffer
				w, err := newParallelXz(&buf, xz.WriterConfig{DictCap: 1 << 16}, 10_000, workers)
				if err != nil {
					t.Fatal(err)
				}
				// Odd write sizes cross chunk borders.
				for rest := input[:size]; len(rest) > 0; {
					n := min(777, len(rest))
					if _, err := w.Write(rest[:n]); err != nil {
						t.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				outs = append(outs, buf.Bytes())
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Error("output depends on the worker count")
			}
			r, err := xz.NewReader(bytes.NewReader(outs[0]))
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, input[:size]) {
				t.Errorf("round trip: %d bytes, %v", len(back), err)
			}
		})
	}
}
