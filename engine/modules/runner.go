package modules

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OSReleasePaths are where os-release(5) lives, in the order osbuild reads
// them.
var OSReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// ReadOSRelease reads the first os-release file that exists into a map.
// Lines are KEY=VALUE with optional quotes; anything else is skipped.
func ReadOSRelease(paths ...string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			} else {
				v = strings.Trim(v, `'"`)
			}
			out[k] = v
		}
		return out
	}
	return out
}

// HostRunner returns the runner name osbuild detects for a host with this
// os-release: "org.osbuild.<ID><VERSION_ID without dots>" matched against
// the libdirs' runners/ (same distribution, the highest version not above
// the host's); "" when no libdir has a suitable runner.
func (ix *Index) HostRunner(osRelease map[string]string) string {
	id := osRelease["ID"]
	if id == "" {
		id = "linux"
	}
	distro, version := parseRunnerName("org.osbuild." + id + strings.ReplaceAll(osRelease["VERSION_ID"], ".", ""))
	best, bestVersion := "", -1
	for _, dir := range ix.libdirs {
		entries, _ := os.ReadDir(filepath.Join(dir, "runners"))
		for _, e := range entries {
			// like osbuild's is_file(): symlinks to files count
			if fi, err := os.Stat(filepath.Join(dir, "runners", e.Name())); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			d, v := parseRunnerName(e.Name())
			if d == distro && v <= version && v > bestVersion {
				best, bestVersion = e.Name(), v
			}
		}
	}
	return best
}

// parseRunnerName splits "org.osbuild.fedora38" into distribution and
// version ("org.osbuild.fedora", 38); no digits at the end is version 0.
func parseRunnerName(name string) (string, int) {
	i := len(name)
	for i > 1 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	v, err := strconv.Atoi(name[i:])
	if err != nil {
		v = 0
	}
	return name[:i], v
}
