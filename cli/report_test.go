package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// noBuild is a manifest that builds nothing without --export: a run of
// it opens the store, reports and ends, with no VM.
const noBuild = `{"version": "2", "pipelines": [{"name": "tree", "stages": [{"type": "org.osbuild.noop"}]}]}`

// fullWriter fails every write as a full disk does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestRunReportWriteFails: a run whose --json document or monitor output
// cannot be written fails (exit 1, one line naming the write), though it
// built everything it was asked to.
func TestRunReportWriteFails(t *testing.T) {
	devFull, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devFull.Close()
	fd := fmt.Sprint(devFull.Fd())
	tests := []struct {
		name   string
		args   []string
		stdout func(*bytes.Buffer) interface{ Write([]byte) (int, error) }
		want   string
	}{
		{"json to a full stdout", []string{"--json"}, full, "write result: no space left on device"},
		{"JSONSeqMonitor to a full stdout", []string{"--monitor", "JSONSeqMonitor"}, full, "write monitor output: no space left on device"},
		{"LogMonitor on /dev/full", []string{"--monitor", "LogMonitor", "--monitor-fd", fd}, buffer, "write monitor output: write monitor-fd-" + fd + ": no space left on device"},
		{"JSONSeqMonitor on /dev/full", []string{"--monitor", "JSONSeqMonitor", "--monitor-fd", fd}, buffer, "write monitor output: write monitor-fd-" + fd + ": no space left on device"},
		{"monitor on a closed fd", []string{"--monitor", "LogMonitor", "--monitor-fd", "987"}, buffer, "write monitor output: write monitor-fd-987: bad file descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"run", "--store", filepath.Join(t.TempDir(), "store")}, tt.args...)
			err := Run(context.Background(), append(args, "-"), strings.NewReader(noBuild), tt.stdout(&out), &errb)
			if code := ExitCode(context.Background(), err); code != ExitFailed {
				t.Fatalf("exit %d (%v), want %d", code, err, ExitFailed)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line with %q", msg, tt.want)
			}
		})
	}
	t.Run("all writes fine", func(t *testing.T) {
		var out, errb bytes.Buffer
		args := []string{"run", "--store", filepath.Join(t.TempDir(), "store"), "--json", "-"}
		if err := Run(context.Background(), args, strings.NewReader(noBuild), &out, &errb); err != nil {
			t.Fatalf("run: %v\n%s", err, errb.String())
		}
		if !strings.Contains(out.String(), `"success":true`) {
			t.Errorf("--json document %q", out.String())
		}
	})
}

func full(*bytes.Buffer) interface{ Write([]byte) (int, error) } { return fullWriter{} }

func buffer(b *bytes.Buffer) interface{ Write([]byte) (int, error) } { return b }
