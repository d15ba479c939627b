package agent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// ErrCmdline is returned for a kernel command line whose osbuildvm.* keys
// are malformed. The agent cannot guess what the host meant, so it stops.
var ErrCmdline = errors.New("invalid kernel command line")

// Channel kinds.
const (
	ChannelVirtioSerial = "virtio-serial"
	ChannelVsock        = "vsock"
)

// maxTagLen is virtiofs's limit on a tag's length.
const maxTagLen = 36

// Config is what the host asked for on the kernel command line.
type Config struct {
	// Channel is ChannelVirtioSerial (the default) or ChannelVsock.
	Channel string
	// VsockPort is the port to listen on for ChannelVsock.
	VsockPort uint32
	// Shares are the virtiofs shares to mount, in command line order.
	Shares []ShareSpec
	// Debug makes the agent log its phases to the console.
	Debug bool
}

// ShareSpec is one osbuildvm.share value.
type ShareSpec struct {
	Tag      string
	ReadOnly bool
}

// ParseCmdline reads the osbuildvm.* keys of a kernel command line (the
// content of /proc/cmdline) and ignores every other word.
func ParseCmdline(cmdline string) (Config, error) {
	cfg := Config{Channel: ChannelVirtioSerial}
	seen := map[string]bool{}
	for _, word := range splitCmdline(cmdline) {
		key, val, _ := strings.Cut(word, "=")
		if err := cfg.set(key, val, seen); err != nil {
			return Config{}, fmt.Errorf("parse kernel command line: %w", err)
		}
	}
	return cfg, nil
}

func (cfg *Config) set(key, val string, seen map[string]bool) error {
	switch key {
	case jsoncomm.CmdlineChannel:
		return cfg.setChannel(val)
	case jsoncomm.CmdlineShare:
		s, err := parseShare(val)
		if err != nil {
			return err
		}
		if seen[s.Tag] {
			return fmt.Errorf("%s: tag %q given twice: %w", key, s.Tag, ErrCmdline)
		}
		seen[s.Tag] = true
		cfg.Shares = append(cfg.Shares, s)
	case jsoncomm.CmdlineDebug:
		cfg.Debug = val == "1"
	}
	return nil
}

func (cfg *Config) setChannel(val string) error {
	if val == ChannelVirtioSerial {
		cfg.Channel, cfg.VsockPort = val, 0
		return nil
	}
	port, ok := strings.CutPrefix(val, ChannelVsock+":")
	n, err := strconv.ParseUint(port, 10, 32)
	if !ok || err != nil || n == 0 {
		return fmt.Errorf("%s=%q: want %q or \"vsock:<port>\": %w", jsoncomm.CmdlineChannel, val, ChannelVirtioSerial, ErrCmdline)
	}
	cfg.Channel, cfg.VsockPort = ChannelVsock, uint32(n)
	return nil
}

// parseShare reads "<tag>" or "<tag>:ro". The tag becomes a directory name
// under SharesDir, so it is held to [A-Za-z0-9._-], not "." or "..".
func parseShare(val string) (ShareSpec, error) {
	tag, opt, hasOpt := strings.Cut(val, ":")
	if hasOpt && opt != "ro" {
		return ShareSpec{}, fmt.Errorf("%s=%q: option %q, want \"ro\": %w", jsoncomm.CmdlineShare, val, opt, ErrCmdline)
	}
	if !validTag(tag) {
		return ShareSpec{}, fmt.Errorf("%s=%q: tag must be 1-%d of [A-Za-z0-9._-]: %w", jsoncomm.CmdlineShare, val, maxTagLen, ErrCmdline)
	}
	return ShareSpec{Tag: tag, ReadOnly: hasOpt}, nil
}

func validTag(tag string) bool {
	if tag == "" || tag == "." || tag == ".." || len(tag) > maxTagLen {
		return false
	}
	for _, c := range []byte(tag) {
		ok := c == '.' || c == '_' || c == '-' || ('0' <= c && c <= '9') ||
			('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// splitCmdline splits a command line into words the way the kernel does:
// at spaces, except inside double quotes, which are removed.
func splitCmdline(s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, c := range s {
		switch {
		case c == '"':
			quoted, inWord = !quoted, true
		case !quoted && (c == ' ' || c == '\t' || c == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
