package virtiofsd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
)

// wrapper runs in virtiofsd's own mount namespace: for a read-only share
// it bind-mounts the directory read-only over itself, then execs
// virtiofsd. Paths arrive as positional arguments, never inside the script.
const wrapper = `set -e
if [ "$1" = ro ]; then mount --bind -- "$2" "$2"; mount -o remount,bind,ro -- "$2"; fi
shift 2
exec "$@"`

// Command returns the program and arguments that run virtiofsd for o (with
// the listening socket as fd 3).
func Command(o Options) (string, []string) {
	daemon := []string{o.Binary, "--fd=3", "-o", "source=" + o.Dir, "-o", "cache=" + o.Cache,
		"-o", "sandbox=namespace", "-o", "no_posix_lock", "-o", "no_flock"}
	if !o.Rootless && !o.ReadOnly {
		return daemon[0], daemon[1:]
	}
	mode := "rw"
	if o.ReadOnly {
		mode = "ro"
	}
	args := []string{"--mount", "--propagation", "private"}
	if o.Rootless {
		args = []string{"--map-auto", "--map-root-user", "--mount", "--propagation", "private"}
	}
	args = append(args, "--", "/bin/sh", "-c", wrapper, "virtiofsd-wrapper", mode, o.Dir)
	return "unshare", append(args, daemon...)
}

// checkSubIDs makes sure the user has the subordinate ids that
// "unshare --map-auto" maps, and says how to add them when not.
func checkSubIDs() error {
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("rootless virtiofsd: %w", err)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if !hasSubIDs(f, u.Username, u.Uid) {
			return fmt.Errorf("rootless virtiofsd: %s has no range for %s: %w; as root run "+
				"\"usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s\" "+
				"and install the uidmap package", f, u.Username, ErrNoSubIDs, u.Username)
		}
	}
	if _, err := os.Stat("/usr/bin/newuidmap"); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rootless virtiofsd: newuidmap missing: %w; install the uidmap package", ErrNoSubIDs)
	}
	return nil
}

// hasSubIDs reports whether file (subuid(5) format) has a range for the
// user by name or uid.
func hasSubIDs(file, name, uid string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		owner, rest, ok := strings.Cut(strings.TrimSpace(s.Text()), ":")
		if ok && (owner == name || owner == uid) && strings.Count(rest, ":") == 1 {
			return true
		}
	}
	return false
}
