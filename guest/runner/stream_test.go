package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

func TestStreamLines(t *testing.T) {
	long := strings.Repeat("x", MaxLogLine+10)
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"lines", "a\nb\n", []string{"a\n", "b\n"}},
		{"unterminated", "a\nb", []string{"a\n", "b"}},
		{"empty line", "\n", []string{"\n"}},
		{"long line split", long + "\n", []string{long[:MaxLogLine], long[MaxLogLine:] + "\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			streamLines(strings.NewReader(tc.in), jsoncomm.StreamStdout, newOutputBudget(MaxStageOutput), func(l jsoncomm.Log) {
				if l.Stream != jsoncomm.StreamStdout {
					t.Errorf("stream %q", l.Stream)
				}
				got = append(got, l.Text)
			})
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %d lines %q, want %d", len(got), got, len(tc.want))
			}
		})
	}
}

// TestStreamBudget: past the budget, the output is drained and dropped,
// with one line saying so, whichever stream spends it.
func TestStreamBudget(t *testing.T) {
	budget := newOutputBudget(10)
	var got []string
	log := func(l jsoncomm.Log) { got = append(got, l.Stream+":"+l.Text) }
	streamLines(strings.NewReader("12345\n"), jsoncomm.StreamStderr, budget, log)
	rest := &countingReader{r: strings.NewReader("abc\n" + strings.Repeat("x\n", 1<<20))}
	streamLines(rest, jsoncomm.StreamStdout, budget, log)
	streamLines(strings.NewReader("more\n"), jsoncomm.StreamStderr, budget, log)
	want := []string{"stderr:12345\n", "stdout:abc\n", "stdout:osbuild-vm: the stage printed more than 16 MiB; the rest of its output is dropped\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if rest.n != 4+2<<20 {
		t.Errorf("read %d bytes of the stream, want all %d: a stage could block on a full pipe", rest.n, 4+2<<20)
	}
}

type countingReader struct {
	r *strings.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadMetadata(t *testing.T) {
	cases := []struct {
		name, content string
		want          string
		err           error
	}{
		{"none", "", "", nil},
		{"object", `{"a": 1}`, `{"a": 1}`, nil},
		{"array", `[1]`, "", jsoncomm.ErrStageFailed},
		{"null", `null`, "", jsoncomm.ErrStageFailed},
		{"garbage", `{"a":`, "", jsoncomm.ErrStageFailed},
		{"too large", `{"a":"` + strings.Repeat("x", MaxMetadataSize) + `"}`, "", jsoncomm.ErrStageFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := t.TempDir() + "/meta"
			if err := writeFile(p, tc.content); err != nil {
				t.Fatal(err)
			}
			got, err := readMetadata(p)
			if !errors.Is(err, tc.err) || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
