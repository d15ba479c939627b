package test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fileInfo is what two trees must agree on for a path: type, mode bits,
// owner, link target, size and content of a regular file, device
// numbers, extended attributes, mtime.
type fileInfo struct {
	kind     string
	mode     uint32 // permission, setuid, setgid, sticky
	uid, gid int
	link     string
	size     int64
	sum      string
	dev      string
	xattrs   string
	mtime    int64
}

func (f fileInfo) String() string {
	s := fmt.Sprintf("%s %04o %d:%d", f.kind, f.mode, f.uid, f.gid)
	switch f.kind {
	case "symlink":
		s += " -> " + f.link
	case "file":
		s += fmt.Sprintf(" %d bytes sha256:%.12s", f.size, f.sum)
	case "char", "block":
		s += " " + f.dev
	}
	if f.xattrs != "" {
		s += " xattrs{" + f.xattrs + "}"
	}
	return s + fmt.Sprintf(" mtime %d", f.mtime)
}

// dirManifest reads a tree on disk, paths relative to root ("etc/passwd").
func dirManifest(t *testing.T, root string) map[string]fileInfo {
	t.Helper()
	out := map[string]fileInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi := fileInfo{mode: st.Mode & 0o7777, uid: int(st.Uid), gid: int(st.Gid), mtime: st.Mtim.Sec}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			fi.kind = "dir"
		case unix.S_IFLNK:
			fi.kind, fi.mode = "symlink", 0
			fi.link, _ = os.Readlink(p)
		case unix.S_IFREG:
			fi.kind, fi.size = "file", st.Size
			fi.sum = fileSum(t, p)
		case unix.S_IFCHR, unix.S_IFBLK:
			fi.kind = map[uint32]string{unix.S_IFCHR: "char", unix.S_IFBLK: "block"}[st.Mode&unix.S_IFMT]
			fi.dev = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			fi.kind = "fifo"
		default:
			fi.kind = "other"
		}
		if fi.kind != "symlink" {
			fi.xattrs = diskXattrs(p)
		}
		out[rel] = fi
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fileSum(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// diskXattrs lists a file's xattrs as "name=hex;..." sorted.
func diskXattrs(p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	var parts []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			continue
		}
		parts = append(parts, name+"="+hex.EncodeToString(val[:m]))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

// tarManifest reads a tar archive as dirManifest reads a tree; a hard
// link is the file it links to.
func tarManifest(t *testing.T, path string) map[string]fileInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]fileInfo{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if name == "" || name == "." {
			continue
		}
		fi := fileInfo{mode: uint32(h.Mode) & 0o7777, uid: h.Uid, gid: h.Gid, mtime: h.ModTime.Unix()}
		switch h.Typeflag {
		case tar.TypeDir:
			fi.kind = "dir"
		case tar.TypeSymlink:
			fi.kind, fi.mode, fi.link = "symlink", 0, h.Linkname
		case tar.TypeReg:
			h2 := sha256.New()
			n, _ := io.Copy(h2, tr)
			fi.kind, fi.size, fi.sum = "file", n, hex.EncodeToString(h2.Sum(nil))
		case tar.TypeLink:
			target := strings.TrimSuffix(strings.TrimPrefix(h.Linkname, "./"), "/")
			out[name] = out[target]
			continue
		case tar.TypeChar, tar.TypeBlock:
			fi.kind = map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[h.Typeflag]
			fi.dev = fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor)
		case tar.TypeFifo:
			fi.kind = "fifo"
		default:
			fi.kind = "other"
		}
		var xs []string
		for k, v := range h.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				xs = append(xs, name+"="+hex.EncodeToString([]byte(v)))
			}
		}
		sort.Strings(xs)
		fi.xattrs = strings.Join(xs, ";")
		out[name] = fi
	}
}

// treeDiff lists the paths where a and b differ, except those in allowed
// (path -> why), as lines to print.
func treeDiff(a, b map[string]fileInfo, allowed map[string]string) []string {
	var out []string
	for p, fa := range a {
		if _, ok := allowed[p]; ok {
			continue
		}
		fb, ok := b[p]
		switch {
		case !ok:
			out = append(out, "only in the reference: "+p+" "+fa.String())
		case fa != fb:
			out = append(out, "differs: "+p+"\n    reference "+fa.String()+"\n    ours      "+fb.String())
		}
	}
	for p, fb := range b {
		if _, ok := allowed[p]; ok {
			continue
		}
		if _, ok := a[p]; !ok {
			out = append(out, "only in ours: "+p+" "+fb.String())
		}
	}
	sort.Strings(out)
	return out
}
