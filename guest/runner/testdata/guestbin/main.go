// Command guestbin stands in for the guest binary in the runner's tests: a
// static multi-call program that is the stage setup process, or one of a
// few built-in test stages chosen by argv[0]'s base name.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/guest/runner"
)

func main() {
	if runner.IsSetup(os.Args) {
		os.Exit(runner.SetupMain())
	}
	switch filepath.Base(os.Args[0]) {
	case "org.test.noop":
	case "org.test.probe":
		if err := probe(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown stage %s\n", os.Args[0])
		os.Exit(2)
	}
}

// probe records what the stage sees into the tree: argv[0], environment,
// the root's entries, /dev's entries, and the arguments file.
func probe() error {
	names := func(dir string) string {
		ents, _ := os.ReadDir(dir)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	args, err := os.ReadFile("/run/osbuild/api/arguments")
	if err != nil {
		return err
	}
	env := os.Environ()
	sort.Strings(env)
	wd, _ := os.Getwd()
	report := map[string]string{
		"argv0": os.Args[0],
		"env":   strings.Join(env, "\n"),
		"root":  names("/"),
		"dev":   names("/dev"),
		"osb":   names("/run/osbuild"),
		"cwd":   wd,
		"pid":   fmt.Sprint(os.Getpid()),
		"args":  string(args),
	}
	data, _ := json.Marshal(report)
	if err := os.WriteFile("/run/osbuild/tree/probe.json", data, 0o644); err != nil {
		return err
	}
	fmt.Println("probe done")
	return os.WriteFile("/run/osbuild/meta", []byte(`{"probed": true}`), 0o644)
}
