package agent

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Config
	}{
		{"defaults", "console=ttyS0 quiet\n", Config{Channel: ChannelVirtioSerial}},
		{"everything", `console=ttyS0 osbuildvm.channel=vsock:1024 osbuildvm.share=sources:ro osbuildvm.share=scratch osbuildvm.debug=1 panic=-1`,
			Config{Channel: ChannelVsock, VsockPort: 1024, Debug: true,
				Shares: []ShareSpec{{Tag: "sources", ReadOnly: true}, {Tag: "scratch"}}}},
		{"virtio-serial explicit", "osbuildvm.channel=virtio-serial", Config{Channel: ChannelVirtioSerial}},
		{"debug off", "osbuildvm.debug=0", Config{Channel: ChannelVirtioSerial}},
		{"quoted", `init="/init" osbuildvm.share="lib.dir-1:ro"`, Config{Channel: ChannelVirtioSerial, Shares: []ShareSpec{{Tag: "lib.dir-1", ReadOnly: true}}}},
		{"other dotted keys", "virtio_pci.force_legacy=1 osbuildvm.other=x", Config{Channel: ChannelVirtioSerial}},
		{"tabs and newline", "\tosbuildvm.share=a\n", Config{Channel: ChannelVirtioSerial, Shares: []ShareSpec{{Tag: "a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmdline(tt.in)
			if err != nil {
				t.Fatalf("ParseCmdline: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCmdline (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseCmdlineMalformed reads testdata/bad-cmdlines.txt, one command
// line per line.
func TestParseCmdlineMalformed(t *testing.T) {
	data, err := os.ReadFile("testdata/bad-cmdlines.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		t.Run(line, func(t *testing.T) {
			if _, err := ParseCmdline(line); !errors.Is(err, ErrCmdline) {
				t.Errorf("ParseCmdline = %v, want ErrCmdline", err)
			}
		})
	}
}

func TestSplitCmdline(t *testing.T) {
	got := splitCmdline(`a "b c" d="e f"g  ""`)
	want := []string{"a", "b c", "d=e fg", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitCmdline (-want +got):\n%s", diff)
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseCmdline(s)
		if err != nil {
			if !errors.Is(err, ErrCmdline) {
				t.Fatalf("error %v is not ErrCmdline", err)
			}
			return
		}
		if cfg.Channel != ChannelVirtioSerial && cfg.Channel != ChannelVsock {
			t.Fatalf("channel %q", cfg.Channel)
		}
		for _, sh := range cfg.Shares {
			if !validTag(sh.Tag) || strings.Contains(sh.Tag, "/") {
				t.Fatalf("accepted tag %q", sh.Tag)
			}
		}
	})
}
