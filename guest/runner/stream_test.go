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
			streamLines(strings.NewReader(tc.in), jsoncomm.StreamStdout, func(l jsoncomm.Log) {
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
