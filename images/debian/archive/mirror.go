package archive

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

// MirrorEnv is the environment variable that overrides apt's configuration
// when no --mirror flag is given.
const MirrorEnv = "OSBUILD_VM_MIRROR"

// ErrNoMirror means neither the flag, the environment nor apt's
// configuration named a usable Debian archive.
var ErrNoMirror = errors.New("no Debian mirror found: pass --mirror URL or set " + MirrorEnv)

// ErrBadMirror means a mirror URL was given but is not an http(s) URL.
var ErrBadMirror = errors.New("mirror is not an http or https URL")

// MirrorSource says where ResolveMirror looks. The zero value reads the
// host's /etc/apt and the process environment.
type MirrorSource struct {
	// Root is prepended to /etc/apt paths; "" means "/". Tests point it at
	// testdata.
	Root string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// ResolveMirror picks the Debian mirror for this run: the --mirror flag if
// set, else $OSBUILD_VM_MIRROR, else the first Debian archive in the host's
// apt configuration. The project never names a mirror itself.
func ResolveMirror(flag string) (string, error) {
	return MirrorSource{}.Resolve(flag)
}

// Resolve is ResolveMirror reading from s.
func (s MirrorSource) Resolve(flag string) (string, error) {
	if flag != "" {
		return cleanMirror(flag)
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if env := getenv(MirrorEnv); env != "" {
		return cleanMirror(env)
	}
	return s.fromApt()
}

// cleanMirror validates a mirror URL and drops its trailing slashes.
func cleanMirror(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("mirror %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("mirror %q: %w", raw, ErrBadMirror)
	}
	return strings.TrimRight(raw, "/"), nil
}

// fromApt scans deb822 .sources files first (the modern format), then the
// one-line sources.list and *.list files.
func (s MirrorSource) fromApt() (string, error) {
	root := s.Root
	if root == "" {
		root = "/"
	}
	dir := filepath.Join(root, "etc/apt")
	sources, err := filepath.Glob(filepath.Join(dir, "sources.list.d", "*.sources"))
	if err != nil {
		return "", fmt.Errorf("list apt sources in %s: %w", dir, err)
	}
	for _, path := range sources {
		if m, err := mirrorFromSources(path); err != nil || m != "" {
			return m, err
		}
	}
	lists, _ := filepath.Glob(filepath.Join(dir, "sources.list.d", "*.list"))
	for _, path := range append([]string{filepath.Join(dir, "sources.list")}, lists...) {
		if m, err := mirrorFromList(path); err != nil || m != "" {
			return m, err
		}
	}
	return "", fmt.Errorf("read apt configuration under %s: %w", dir, ErrNoMirror)
}

// mirrorFromSources returns the first fitting entry of a deb822 .sources
// file, or "" when it has none.
func mirrorFromSources(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read apt sources %s: %w", path, err)
	}
	defer f.Close()
	ps, err := deb822.ReadAllComments(f)
	if err != nil {
		return "", fmt.Errorf("parse apt sources %s: %w", path, err)
	}
	for _, p := range ps {
		if !fitsSources(p) {
			continue
		}
		for _, uri := range strings.Fields(p.Value("URIs")) {
			if m, err := cleanMirror(uri); err == nil {
				return m, nil
			}
		}
	}
	return "", nil
}

// fitsSources says whether a .sources entry is an enabled Debian archive
// with a release suite (not -security or -updates) and the main component.
func fitsSources(p deb822.Paragraph) bool {
	if !slices.Contains(strings.Fields(p.Value("Types")), "deb") ||
		strings.EqualFold(p.Value("Enabled"), "no") {
		return false
	}
	return slices.ContainsFunc(strings.Fields(p.Value("Suites")), plainSuite) &&
		slices.Contains(strings.Fields(p.Value("Components")), "main") &&
		debianKeyring(p.Value("Signed-By"))
}

// plainSuite is a release suite such as "bookworm" or "stable".
func plainSuite(s string) bool { return s != "" && !strings.ContainsAny(s, "-/") }

// debianKeyring accepts entries signed by Debian's archive keyring, or by
// apt's default trust (no Signed-By), and rejects third-party repositories.
func debianKeyring(signedBy string) bool {
	return signedBy == "" || strings.Contains(signedBy, "debian-archive-keyring")
}

// mirrorFromList returns the first fitting "deb" line of a one-line-format
// file; a missing file is not an error.
func mirrorFromList(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read apt sources %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := mirrorFromLine(sc.Text()); m != "" {
			return m, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read apt sources %s: %w", path, err)
	}
	return "", nil
}

// mirrorFromLine parses "deb [opts] URI SUITE COMPONENT..." and returns the
// URI when the line fits.
func mirrorFromLine(line string) string {
	line, _, _ = strings.Cut(line, "#")
	fields := strings.Fields(line)
	if len(fields) < 4 || fields[0] != "deb" {
		return ""
	}
	fields = fields[1:]
	signedBy := ""
	if strings.HasPrefix(fields[0], "[") {
		end := slices.IndexFunc(fields, func(f string) bool { return strings.HasSuffix(f, "]") })
		if end < 0 || len(fields) < end+4 {
			return ""
		}
		signedBy = optionValue(fields[:end+1], "signed-by")
		fields = fields[end+1:]
	}
	if !plainSuite(fields[1]) || !slices.Contains(fields[2:], "main") || !debianKeyring(signedBy) {
		return ""
	}
	m, err := cleanMirror(fields[0])
	if err != nil {
		return ""
	}
	return m
}

// optionValue finds key=value among "[a=b c=d]" option words.
func optionValue(words []string, key string) string {
	for _, w := range words {
		w = strings.Trim(w, "[]")
		if k, v, ok := strings.Cut(w, "="); ok && k == key {
			return v
		}
	}
	return ""
}
