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
		os.Exit(runner.SetupMain(builtin))
	}
	run, ok := builtin(os.Args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown stage %s\n", os.Args[0])
		os.Exit(2)
	}
	os.Exit(run())
}

// builtin finds the test stages; org.test.exec-probe is a probe that is
// never run in the setup process.
func builtin(argv0 string) (func() int, bool) {
	switch filepath.Base(argv0) {
	case "org.test.noop":
		return func() int { return 0 }, true
	case "org.test.probe":
		return probeMain, true
	case "org.test.exec-probe":
		return probeMain, !runner.IsSetup(os.Args)
	}
	return nil, false
}

func probeMain() int {
	if err := probe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// probe records what the stage sees into the tree: argv[0], environment,
// the root's entries, /dev's entries, open descriptors, capabilities and
// the arguments file.
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
		"caps":  capabilities(),
		"fds":   descriptors(),
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

// capabilities returns the Cap* lines of /proc/self/status.
func capabilities() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err.Error()
	}
	var caps []string
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Cap") {
			caps = append(caps, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(caps, "\n")
}

// descriptors lists open descriptors and where they lead, but for 1 and 2
// (the output pipes) and the Go runtime's own (its poller, and the
// directory being read, gone by now).
func descriptors() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || e.Name() == "1" || e.Name() == "2" || strings.HasPrefix(target, "anon_inode:") || strings.HasPrefix(target, "/proc/") {
			continue
		}
		out = append(out, e.Name()+"="+target)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
