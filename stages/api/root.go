package api

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinkHops bounds symlink chains like the kernel's ELOOP limit.
const maxSymlinkHops = 40

// ErrSymlinkLoop is returned when resolving a path meets too many symlinks.
var ErrSymlinkLoop = errors.New("too many levels of symbolic links")

// Root is a host directory used as "/" when resolving paths: a symlink met
// on the way is followed as if the process were chrooted into Root, so an
// absolute or ".."-laden link target can never lead outside it. A tree
// often has such links (etc/localtime -> /usr/share/zoneinfo/…), and a
// hostile one may have etc -> /; both resolve inside the tree.
type Root string

// Resolve returns the host path of p (an absolute or relative path inside
// the root), following every symlink including the final component.
func (r Root) Resolve(p string) (string, error) {
	return r.resolve(p, true)
}

// ResolveParent is Resolve for all but the final component, which is kept
// as is: use it to create, replace or remove the final entry itself (a
// symlink must be replaced, not written through).
func (r Root) ResolveParent(p string) (string, error) {
	return r.resolve(p, false)
}

// Join returns the host path of p without following any symlink. It is
// only safe for paths known to be free of symlinks (e.g. ones just made).
func (r Root) Join(p string) string {
	return filepath.Join(string(r), filepath.Clean("/"+p))
}

func (r Root) resolve(p string, followFinal bool) (string, error) {
	pending := splitPath(p)
	var done []string
	hops := 0
	for len(pending) > 0 {
		comp := pending[0]
		pending = pending[1:]
		if comp == ".." {
			done = popComponent(done)
			continue
		}
		if len(pending) == 0 && !followFinal {
			done = append(done, comp)
			break
		}
		next := append(done, comp)
		target, isLink, err := r.readLink(next)
		if err != nil {
			return "", fmt.Errorf("resolve %s in %s: %w", p, r, err)
		}
		if !isLink {
			done = next
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return "", fmt.Errorf("resolve %s in %s: %w", p, r, ErrSymlinkLoop)
		}
		if filepath.IsAbs(target) {
			done = done[:0:0]
		}
		pending = append(splitPath(target), pending...)
	}
	return filepath.Join(append([]string{string(r)}, done...)...), nil
}

// readLink reports whether the in-root path comps is a symlink, and its
// target. A missing path (or one under a non-directory) is not a symlink:
// the rest of the path is then taken lexically.
func (r Root) readLink(comps []string) (string, bool, error) {
	host := filepath.Join(append([]string{string(r)}, comps...)...)
	fi, err := os.Lstat(host)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return "", false, nil
	}
	target, err := os.Readlink(host)
	return target, err == nil, err
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func popComponent(comps []string) []string {
	if len(comps) == 0 {
		return comps
	}
	return comps[:len(comps)-1]
}
