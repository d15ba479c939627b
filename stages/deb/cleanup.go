package deb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/accountdb"
)

// Cleanup implements org.osbuild.deb.cleanup: it removes from a Debian
// tree what differs between two builds of the same packages and is no
// part of the system, as mmdebstrap's clean-up does: apt's package lists
// and caches (leaving apt's lock files and _apt-owned partial directories
// as `apt-get update` and `apt-get clean` leave them), the dpkg, apt and
// alternatives logs, ldconfig's aux-cache, the contents of /run (but
// /run/lock) and /tmp, and the machine id (an empty /etc/machine-id
// stays, so the first boot makes one). With source-epoch set it then
// clamps every mtime in the tree to it, as mmdebstrap's tar does. No
// target code runs.
func Cleanup(ctx context.Context, args *api.Arguments) error {
	var opts struct{}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	root := api.Root(args.Tree)
	steps := []func(api.Root) error{cleanApt, cleanLogs, cleanMachineID, cleanVolatile}
	for _, step := range steps {
		if err := step(root); err != nil {
			return fmt.Errorf("deb.cleanup: %w", err)
		}
	}
	epoch := sourceEpoch()
	if epoch == "" {
		return nil
	}
	sec, _ := strconv.ParseInt(epoch, 10, 64)
	if err := clampMtimes(ctx, args.Tree, time.Unix(sec, 0)); err != nil {
		return fmt.Errorf("deb.cleanup: %w", err)
	}
	return nil
}

// removeIn removes the entries of the tree directory dir (resolved in the
// tree) whose names keep does not accept.
func removeIn(root api.Root, dir string, remove func(name string, d fs.DirEntry) bool) error {
	host, err := root.Resolve(dir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(host)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if remove(e.Name(), e) {
			if err := os.RemoveAll(filepath.Join(host, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanApt leaves /var/lib/apt/lists and /var/cache/apt as `apt-get
// update` with no sources and `apt-get clean` do.
func cleanApt(root api.Root) error {
	if err := removeIn(root, "/var/lib/apt/lists", func(n string, _ fs.DirEntry) bool {
		return n != "lock" && n != "partial"
	}); err != nil {
		return err
	}
	if err := removeIn(root, "/var/cache/apt", func(n string, d fs.DirEntry) bool { return !d.IsDir() }); err != nil {
		return err
	}
	for _, d := range []string{"/var/cache/apt/archives", "/var/cache/apt/archives/partial", "/var/lib/apt/lists/partial"} {
		if err := removeIn(root, d, func(n string, d fs.DirEntry) bool { return !d.IsDir() && n != "lock" }); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(root.Join("/usr/bin/apt-get")); err != nil {
		return nil // no apt: nothing leaves its locks behind
	}
	uid, err := lookupUser(root, "_apt")
	if err != nil {
		return err
	}
	for _, d := range []string{"/var/lib/apt/lists", "/var/cache/apt/archives"} {
		if err := aptDir(root, d, uid); err != nil {
			return err
		}
	}
	return nil
}

// aptDir makes dir/lock (root, 0640) and dir/partial (_apt, 0700) as apt
// creates them when it takes its locks.
func aptDir(root api.Root, dir string, aptUID int) error {
	if _, err := root.MkdirAll(dir+"/partial", 0o700); err != nil {
		return err
	}
	partial := root.Join(dir + "/partial")
	if err := os.Chmod(partial, 0o700); err != nil {
		return err
	}
	if aptUID >= 0 {
		if err := os.Lchown(partial, aptUID, 0); err != nil {
			return err
		}
	}
	lock := root.Join(dir + "/lock")
	if _, err := os.Lstat(lock); errors.Is(err, os.ErrNotExist) {
		if err := root.WriteFile(dir+"/lock", nil, 0o640); err != nil {
			return err
		}
	}
	return os.Chmod(lock, 0o640)
}

// cleanLogs removes the logs mmdebstrap removes for reproducible output.
func cleanLogs(root api.Root) error {
	for _, p := range []string{
		"/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/apt/term.log",
		"/var/log/alternatives.log", "/var/cache/ldconfig/aux-cache", "/var/log/apt/eipp.log.xz",
		"/var/lib/dbus/machine-id",
	} {
		if _, err := root.Remove(p); err != nil {
			return err
		}
	}
	return nil
}

// cleanMachineID empties /etc/machine-id where there is one: machine-id(5)
// asks images for an empty file, filled at first boot.
func cleanMachineID(root api.Root) error {
	p := root.Join("/etc/machine-id")
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().IsRegular() && fi.Size() == 0 {
		return nil
	}
	if _, err := root.Remove("/etc/machine-id"); err != nil {
		return err
	}
	return root.WriteFile("/etc/machine-id", nil, 0o444)
}

// cleanVolatile empties /run (keeping /run/lock, which /var/lock points
// to) and /tmp.
func cleanVolatile(root api.Root) error {
	if err := removeIn(root, "/run", func(n string, _ fs.DirEntry) bool { return n != "lock" }); err != nil {
		return err
	}
	return removeIn(root, "/tmp", func(string, fs.DirEntry) bool { return true })
}

// clampMtimes sets every mtime after epoch to epoch, without following
// symlinks, as tar --clamp-mtime does.
func clampMtimes(ctx context.Context, tree string, epoch time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(epoch.UnixNano()), unix.NsecToTimespec(epoch.UnixNano())}
	return filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mtim.Sec < epoch.Unix() || st.Mtim.Sec == epoch.Unix() && st.Mtim.Nsec == 0 {
			return nil
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// lookupUser returns the uid of name in the tree's /etc/passwd, or -1.
func lookupUser(root api.Root, name string) (int, error) {
	db, err := accountdb.Load(root, "/etc/passwd", 7, 0o644)
	if err != nil {
		return -1, err
	}
	e := db.Lookup(name)
	if e == nil {
		return -1, nil
	}
	uid, err := strconv.Atoi(e[2])
	if err != nil {
		return -1, fmt.Errorf("/etc/passwd: uid of %s: %w", name, err)
	}
	return uid, nil
}
