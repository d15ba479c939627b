package accountdb

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// Defaults are the settings useradd reads from login.defs and
// /etc/default/useradd that matter for a new account.
type Defaults struct {
	UID, GID   IDRange
	CreateHome bool
	HomeMode   uint32
	Shell      string
	HomeBase   string
	PassMax    string
	PassMin    string
	PassWarn   string
}

// LoadDefaults reads the tree's settings, with the shadow tools' own
// defaults where a setting is absent.
func LoadDefaults(tree api.Root) Defaults {
	defs := keyValues(tree, "/etc/login.defs", " \t")
	ua := keyValues(tree, "/etc/default/useradd", "=")
	d := Defaults{
		UID:      IDRange{intOr(defs["UID_MIN"], 1000), intOr(defs["UID_MAX"], 60000)},
		GID:      IDRange{intOr(defs["GID_MIN"], 1000), intOr(defs["GID_MAX"], 60000)},
		Shell:    strOr(ua["SHELL"], "/bin/sh"),
		HomeBase: strOr(ua["HOME"], "/home"),
		PassMax:  strOr(defs["PASS_MAX_DAYS"], "99999"),
		PassMin:  strOr(defs["PASS_MIN_DAYS"], "0"),
		PassWarn: strOr(defs["PASS_WARN_AGE"], "7"),
	}
	d.CreateHome = strings.EqualFold(defs["CREATE_HOME"], "yes")
	umask := octalOr(defs["UMASK"], 0o022)
	d.HomeMode = octalOr(defs["HOME_MODE"], 0o777&^umask)
	return d
}

// keyValues reads "KEY<sep>VALUE" lines, skipping comments.
func keyValues(tree api.Root, path, sep string) map[string]string {
	out := map[string]string{}
	data, err := tree.ReadFile(path)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, sep)
		if i < 0 {
			continue
		}
		out[line[:i]] = strings.Trim(strings.TrimSpace(line[i+1:]), `"`)
	}
	return out
}

func intOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func octalOr(s string, def uint32) uint32 {
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		return uint32(n)
	}
	return def
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
