package deb

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// aptSource is one deb822 stanza of sources.list(5).
type aptSource struct {
	Filename      string   `json:"filename"`
	Types         []string `json:"types"`
	URIs          []string `json:"uris"`
	Suites        []string `json:"suites"`
	Components    []string `json:"components"`
	SignedBy      string   `json:"signed-by"`
	Architectures []string `json:"architectures"`
}

// aptConfig is one apt.conf(5) file of "Key "value";" lines.
type aptConfig struct {
	Filename string            `json:"filename"`
	Options  map[string]string `json:"options"`
}

// aptName is a file name apt reads in its .d directories (apt ignores
// names with other characters).
var aptName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// AptSources implements org.osbuild.apt.sources: the image's apt sources
// as deb822 files (/etc/apt/sources.list.d/<filename>.sources, each with
// its Signed-By keyring) and apt configuration files
// (/etc/apt/apt.conf.d/<filename>). Written in the order given, options of
// a configuration file sorted by key, so the bytes depend on the options
// only.
func AptSources(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Sources []aptSource `json:"sources"`
		Config  []aptConfig `json:"config"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	root := api.Root(args.Tree)
	for _, s := range opts.Sources {
		if !aptName.MatchString(s.Filename) {
			return fmt.Errorf("apt.sources: file name %q: use letters, digits, '_', '-' and '.'", s.Filename)
		}
		if err := root.WriteFile("/etc/apt/sources.list.d/"+s.Filename+".sources", []byte(s.stanza()), 0o644); err != nil {
			return fmt.Errorf("apt.sources: %w", err)
		}
	}
	for _, c := range opts.Config {
		if !aptName.MatchString(c.Filename) {
			return fmt.Errorf("apt.sources: configuration file name %q: use letters, digits, '_', '-' and '.'", c.Filename)
		}
		if err := root.WriteFile("/etc/apt/apt.conf.d/"+c.Filename, []byte(c.text()), 0o644); err != nil {
			return fmt.Errorf("apt.sources: %w", err)
		}
	}
	return nil
}

func (s aptSource) stanza() string {
	var b strings.Builder
	field := func(name string, vals []string) {
		if len(vals) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(vals, " "))
		}
	}
	field("Types", s.Types)
	field("URIs", s.URIs)
	field("Suites", s.Suites)
	field("Components", s.Components)
	field("Architectures", s.Architectures)
	if s.SignedBy != "" {
		field("Signed-By", []string{s.SignedBy})
	}
	return b.String()
}

// text writes the options as apt reads them; the schema keeps quotes and
// newlines out of values and keys to apt's own characters.
func (c aptConfig) text() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(c.Options)) {
		fmt.Fprintf(&b, "%s \"%s\";\n", k, c.Options[k])
	}
	return b.String()
}
