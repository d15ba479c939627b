package systemd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

type unitCreateOptions struct {
	Filename string          `json:"filename"`
	UnitType string          `json:"unit-type"`
	UnitPath string          `json:"unit-path"`
	Config   json.RawMessage `json:"config"`
}

// requiredSection is the section a unit of each suffix must have.
var requiredSection = map[string]string{".service": "Service", ".mount": "Mount", ".socket": "Socket", ".swap": "Swap"}

// UnitCreate writes a unit file from sections of options, keeping the
// order they are given in, in the format upstream's configparser writes:
// "key=value" lines, list values as repeated keys, a blank line after
// each section.
func UnitCreate(_ context.Context, args *api.Arguments) error {
	var opts unitCreateOptions
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if err := checkUnitName(opts.Filename); err != nil {
		return err
	}
	text, sections, err := renderUnit(opts.Config)
	if err != nil {
		return fmt.Errorf("unit %s: %w", opts.Filename, err)
	}
	suffix := opts.Filename[strings.LastIndexByte(opts.Filename, '.')+1:]
	if want, ok := requiredSection["."+suffix]; ok && !sections[want] {
		return fmt.Errorf("unit %s: %w: needs a %s section", opts.Filename, ErrInvalidUnit, want)
	}
	return api.Root(args.Tree).WriteFile(unitDir(opts)+"/"+opts.Filename, []byte(text), 0o644)
}

func unitDir(o unitCreateOptions) string {
	dir := "/usr/lib/systemd"
	if o.UnitPath == "etc" {
		dir = "/etc/systemd"
	}
	if o.UnitType == "global" {
		return dir + "/user"
	}
	return dir + "/system"
}

// renderUnit writes the sections in document order and reports which
// sections it saw.
func renderUnit(config json.RawMessage) (string, map[string]bool, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(config, &cfg); err != nil {
		return "", nil, fmt.Errorf("%w: config: %w", api.ErrInvalidArguments, err)
	}
	names, err := api.ObjectKeys(config)
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, section := range names {
		seen[section] = true
		fmt.Fprintf(&b, "[%s]\n", section)
		if err := renderSection(&b, cfg[section]); err != nil {
			return "", nil, fmt.Errorf("section %s: %w", section, err)
		}
		b.WriteString("\n")
	}
	return b.String(), seen, nil
}

func renderSection(b *strings.Builder, raw json.RawMessage) error {
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &opts); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalidArguments, err)
	}
	keys, err := api.ObjectKeys(raw)
	if err != nil {
		return err
	}
	for _, k := range keys {
		lines, err := renderOption(k, opts[k])
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		for _, l := range lines {
			b.WriteString(strings.ReplaceAll(l, "\n", "\n\t") + "\n")
		}
	}
	return nil
}

// renderOption returns the key=value lines of one option: one per list
// item, Environment items as "KEY=VALUE" in quotes.
func renderOption(key string, raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		v, err := scalar(raw)
		return []string{key + "=" + v}, err
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		v, err := listItem(key, item)
		if err != nil {
			return nil, err
		}
		out = append(out, key+"="+v)
	}
	return out, nil
}

func listItem(key string, raw json.RawMessage) (string, error) {
	if key != "Environment" {
		return scalar(raw)
	}
	var env struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", fmt.Errorf("%w: %w", api.ErrInvalidArguments, err)
	}
	v, err := scalar(env.Value)
	return `"` + env.Key + "=" + v + `"`, err
}

// scalar formats a JSON scalar as Python's str() would: booleans as
// True/False, numbers as written.
func scalar(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("%w: %w", api.ErrInvalidArguments, err)
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case json.Number:
		return x.String(), nil
	case nil:
		return "None", nil
	}
	return "", fmt.Errorf("%w: value %s is not a scalar", api.ErrInvalidArguments, raw)
}
