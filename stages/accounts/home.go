package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ensureHome makes the home directory from /etc/skel when it is missing
// and one is wanted: a home given explicitly, CREATE_HOME in login.defs,
// or an existing user (mkhomedir_helper upstream). "home": "" means none.
func (d *dbs) ensureHome(e []string, o userOptions, existed bool) error {
	if o.Home != nil && *o.Home == "" {
		return nil
	}
	home := e[5]
	if home == "" || home == "/" || home == "/nonexistent" {
		return nil
	}
	host, err := d.tree.Resolve(home)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(host); err == nil {
		return nil
	}
	if o.Home == nil && !d.defs.CreateHome && !existed {
		return nil
	}
	uid, gid := atoi(e[2]), atoi(e[3])
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(host, fs.FileMode(d.defs.HomeMode)); err != nil {
		return fmt.Errorf("create home %s: %w", home, err)
	}
	if err := unix.Chmod(host, d.defs.HomeMode); err != nil {
		return err
	}
	if err := lchown(host, uid, gid); err != nil {
		return err
	}
	return d.copySkel(host, uid, gid)
}

// copySkel copies /etc/skel's files into a new home, owned by the user.
func (d *dbs) copySkel(home string, uid, gid int) error {
	skel, err := d.tree.Resolve("/etc/skel")
	if err != nil {
		return err
	}
	if _, err := os.Stat(skel); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(skel, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == skel {
			return err
		}
		return copySkelEntry(p, filepath.Join(home, strings.TrimPrefix(p, skel)), de, uid, gid)
	})
}

func copySkelEntry(src, dst string, de fs.DirEntry, uid, gid int) error {
	info, err := de.Info()
	if err != nil {
		return err
	}
	switch {
	case de.IsDir():
		err = os.Mkdir(dst, info.Mode().Perm())
	case info.Mode()&fs.ModeSymlink != 0:
		var t string
		if t, err = os.Readlink(src); err == nil {
			err = os.Symlink(t, dst)
		}
	case info.Mode().IsRegular():
		var data []byte
		if data, err = os.ReadFile(src); err == nil {
			err = os.WriteFile(dst, data, info.Mode().Perm())
		}
	default:
		return nil
	}
	if err != nil {
		return err
	}
	return lchown(dst, uid, gid)
}

// addKeys appends keys to ~/.ssh/authorized_keys (0600 in a 0700 .ssh,
// both owned by the user).
func (d *dbs) addKeys(e []string, keys []string) error {
	uid, gid := atoi(e[2]), atoi(e[3])
	dir, err := d.tree.Resolve(path.Join(e[5], ".ssh"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := lchown(dir, uid, gid); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	file := filepath.Join(dir, "authorized_keys")
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("authorized_keys: %w", err)
	}
	if _, err := f.WriteString(strings.Join(keys, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := lchown(file, uid, gid); err != nil {
		return err
	}
	return os.Chmod(file, 0o600)
}

// lchown changes owners only as root: tests run unprivileged too, and a
// non-root stage could not give files away anyway.
func lchown(p string, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(p, uid, gid)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
