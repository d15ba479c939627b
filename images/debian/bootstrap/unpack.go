package bootstrap

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
)

// ErrUnpack marks a package whose data cannot be unpacked onto the tree
// as tar would: a name through a file, a symlink loop, a hard link to
// nothing.
var ErrUnpack = errors.New("cannot unpack")

// maxLinks bounds the symlinks followed resolving one name, as the
// kernel's ELOOP limit does.
const maxLinks = 40

// WriteEssential writes to w the tree archive a new system starts from
// before its first dpkg run, as mmdebstrap's setup and extract phases
// leave it: Skeleton, /etc/fstab, an empty dpkg database for arch, /dev,
// then the data of the essential set of pkgs unpacked in order as `tar
// --keep-directory-symlink` does. Every name is resolved through the
// symlinks unpacked before it, so no entry of the archive has a symlink
// as its parent; an entry for a directory that is already a symlink to a
// directory leaves the link as it is. mtime is the time of the entries
// this package makes itself (the packages bring their own).
func WriteEssential(ctx context.Context, w io.Writer, pkgs []*Package, mtime time.Time) error {
	arch, err := NativeArch(pkgs)
	if err != nil {
		return err
	}
	t := &merger{tw: tar.NewWriter(w), nodes: map[string]*node{"": {kind: tar.TypeDir}}, mtime: mtime}
	if err := t.skeleton(arch); err != nil {
		return err
	}
	for _, p := range EssentialSet(pkgs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := t.unpack(ctx, p); err != nil {
			return fmt.Errorf("unpack %s: %w", p.Name, err)
		}
	}
	if err := t.finish(); err != nil {
		return err
	}
	return t.tw.Close()
}

// NativeArch is the architecture of the dpkg package: the one the new
// system's dpkg calls its own.
func NativeArch(pkgs []*Package) (string, error) {
	for _, p := range pkgs {
		if p.Name == "dpkg" {
			return p.Arch, nil
		}
	}
	return "", errors.New("the packages for a new system must include dpkg")
}

type node struct {
	kind   byte // a tar type flag
	target string
}

// merger writes one archive from several, keeping the tree they make
// together (types and symlink targets only) to resolve names.
type merger struct {
	tw        *tar.Writer
	nodes     map[string]*node // "" is the root, else "a/b"
	mtime     time.Time
	staged    int // packages staged in Unpacked
	interests interests
}

func (t *merger) skeleton(arch string) error {
	for _, d := range Skeleton {
		if err := t.add(&tar.Header{Typeflag: tar.TypeDir, Name: d.Path, Mode: d.Mode}, nil); err != nil {
			return err
		}
	}
	files := []struct{ name, body string }{
		{"etc/fstab", Fstab}, {"var/lib/dpkg/status", ""}, {"var/lib/dpkg/arch", arch + "\n"},
	}
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body))}
		if err := t.add(h, strings.NewReader(f.body)); err != nil {
			return err
		}
	}
	if err := t.add(&tar.Header{Typeflag: tar.TypeDir, Name: "dev", Mode: 0o755}, nil); err != nil {
		return err
	}
	for _, d := range DevFiles {
		h := &tar.Header{Name: "dev/" + d.Name, Mode: d.Mode, Linkname: d.Target, Devmajor: d.Major, Devminor: d.Minor}
		h.Typeflag = map[byte]byte{'c': tar.TypeChar, 'l': tar.TypeSymlink, 'd': tar.TypeDir}[d.Kind]
		if err := t.add(h, nil); err != nil {
			return err
		}
	}
	return nil
}

// add writes an entry the merger made itself (name already canonical),
// with the merger's mtime unless the header has one.
func (t *merger) add(h *tar.Header, r io.Reader) error {
	if h.ModTime.IsZero() {
		h.ModTime = t.mtime
	}
	h.Format = tar.FormatPAX
	t.nodes[h.Name] = &node{kind: h.Typeflag, target: h.Linkname}
	return t.write(h, r)
}

// write emits h under its canonical name ("./a/b", "./a/dir/").
func (t *merger) write(h *tar.Header, r io.Reader) error {
	name := "./" + h.Name
	if h.Name == "" {
		name = "./"
	} else if h.Typeflag == tar.TypeDir {
		name += "/"
	}
	out := *h
	out.Name, out.Uname, out.Gname = name, "", ""
	out.AccessTime, out.ChangeTime = time.Time{}, time.Time{}
	out.Format = tar.FormatPAX
	if out.Typeflag == tar.TypeLink {
		out.Linkname = "./" + h.Linkname
	}
	if err := t.tw.WriteHeader(&out); err != nil {
		return err
	}
	if r != nil && out.Typeflag == tar.TypeReg {
		if _, err := io.Copy(t.tw, r); err != nil {
			return err
		}
	}
	return nil
}

// unpack unpacks p's data and records what dpkg --unpack would: the
// info files, the conffiles' .dpkg-new copies, its status stanza and its
// trigger interests.
func (t *merger) unpack(ctx context.Context, p *Package) error {
	ctl, err := readControlFile(p.Path)
	if err != nil {
		return err
	}
	rec := newRecord(ctl)
	if err := t.data(ctx, p, rec); err != nil {
		return err
	}
	for _, f := range rec.infoFiles() {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: "var/lib/dpkg/info/" + f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: f.mtime}
		if err := t.add(h, bytes.NewReader(f.data)); err != nil {
			return err
		}
	}
	if err := t.dpkgNew(rec); err != nil {
		return err
	}
	if err := t.stage(rec); err != nil {
		return err
	}
	t.interests.add(rec)
	return nil
}

// stage writes Unpacked/NNNN/{tmp.ci/*,status} for the package.
func (t *merger) stage(rec *record) error {
	dir := fmt.Sprintf("%s/%04d", Unpacked, t.staged)
	t.staged++
	if t.staged == 1 {
		if err := t.add(&tar.Header{Typeflag: tar.TypeDir, Name: Unpacked, Mode: 0o755}, nil); err != nil {
			return err
		}
	}
	for _, d := range []string{dir, dir + "/tmp.ci"} {
		if err := t.add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil); err != nil {
			return err
		}
	}
	for _, n := range sortedNames(rec.ctl.Files) {
		f := rec.ctl.Files[n]
		h := &tar.Header{Typeflag: tar.TypeReg, Name: dir + "/tmp.ci/" + n, Mode: int64(f.Mode), Size: int64(len(f.Data)), ModTime: f.ModTime}
		if err := t.add(h, bytes.NewReader(f.Data)); err != nil {
			return err
		}
	}
	return t.addFile(dir+"/status", rec.stanza())
}

// dpkgNew writes each conffile again as <name>.dpkg-new, where dpkg
// --unpack leaves a conffile for dpkg --configure to put in place.
func (t *merger) dpkgNew(rec *record) error {
	for _, name := range rec.conffileNames() {
		h, ok := rec.confHdrs[name]
		if !ok {
			continue // listed, not shipped
		}
		target, err := t.resolve(name+".dpkg-new", false)
		if err != nil {
			return err
		}
		c := *h
		c.Name = target
		t.nodes[target] = &node{kind: tar.TypeReg}
		if err := t.write(&c, bytes.NewReader(rec.conffiles[name])); err != nil {
			return err
		}
	}
	return nil
}

func (t *merger) data(ctx context.Context, p *Package, rec *record) error {
	f, err := os.Open(p.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := debfile.DataTar(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return err
	}
	defer data.Close()
	tr := tar.NewReader(data)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", debfile.ErrFormat, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		content, done := rec.entry(h, tr)
		if content == nil {
			return done()
		}
		if err := t.entry(h, content); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if err := done(); err != nil {
			return err
		}
	}
}

// finish writes what dpkg keeps about the trigger interests of all the
// packages unpacked.
func (t *merger) finish() error {
	if len(t.interests.file) > 0 {
		if err := t.addFile("var/lib/dpkg/triggers/File", strings.Join(t.interests.file, "\n")+"\n"); err != nil {
			return err
		}
	}
	for _, name := range t.interests.order {
		if strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			return fmt.Errorf("trigger name %q: %w", name, ErrUnpack)
		}
		if err := t.addFile("var/lib/dpkg/triggers/"+name, strings.Join(t.interests.explicit[name], "\n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func (t *merger) addFile(name, body string) error {
	return t.add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, strings.NewReader(body))
}

// entry applies one data.tar entry as tar --keep-directory-symlink does.
func (t *merger) entry(h *tar.Header, r io.Reader) error {
	if _, err := debfile.CleanName(h.Name); err != nil {
		return err
	}
	name, err := t.resolve(h.Name, false)
	if err != nil {
		return err
	}
	have := t.nodes[name]
	switch h.Typeflag {
	case tar.TypeDir:
		if have != nil && have.kind == tar.TypeSymlink && t.isDir(name) {
			return nil // the link stays, and the entry's attributes go nowhere
		}
	case tar.TypeReg, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if have != nil && have.kind == tar.TypeDir {
			return fmt.Errorf("a directory is in the way: %w", ErrUnpack)
		}
	case tar.TypeLink:
		target, err := t.resolve(h.Linkname, false)
		if err != nil {
			return err
		}
		if n := t.nodes[target]; n == nil || n.kind != tar.TypeReg {
			return fmt.Errorf("hard link to %s, not an unpacked file: %w", h.Linkname, ErrUnpack)
		}
		h.Linkname = target
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("entry type %q: %w", h.Typeflag, ErrUnpack)
	}
	h.Name = name
	t.nodes[name] = &node{kind: h.Typeflag, target: h.Linkname}
	if h.Typeflag == tar.TypeLink {
		t.nodes[name].kind = tar.TypeReg
	}
	return t.write(h, r)
}

// isDir says whether name, following symlinks, is a directory.
func (t *merger) isDir(name string) bool {
	p, err := t.resolve(name, true)
	if err != nil {
		return false
	}
	n := t.nodes[p]
	return n != nil && n.kind == tar.TypeDir
}

// resolve turns an archive name into a canonical path of the tree,
// following the symlinks of every parent (and of the last component when
// followLast), with ".." stopping at the root as in a chroot. A missing
// parent directory is made, as tar makes one.
func (t *merger) resolve(name string, followLast bool) (string, error) {
	comps := strings.Split(name, "/")
	var out []string
	links := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		cand := path.Join(append(out, c)...)
		n := t.nodes[cand]
		last := !hasMore(comps)
		if n != nil && n.kind == tar.TypeSymlink && (!last || followLast) {
			if links++; links > maxLinks {
				return "", fmt.Errorf("too many symlinks resolving %s: %w", name, ErrUnpack)
			}
			if strings.HasPrefix(n.target, "/") {
				out = nil
			}
			comps = append(strings.Split(n.target, "/"), comps...)
			continue
		}
		if !last {
			if n == nil {
				if err := t.add(&tar.Header{Typeflag: tar.TypeDir, Name: cand, Mode: 0o755}, nil); err != nil {
					return "", err
				}
			} else if n.kind != tar.TypeDir {
				return "", fmt.Errorf("%s is not a directory: %w", cand, ErrUnpack)
			}
		}
		out = append(out, c)
	}
	return path.Join(out...), nil
}

// hasMore says whether comps holds another real component.
func hasMore(comps []string) bool {
	for _, c := range comps {
		if c != "" && c != "." {
			return true
		}
	}
	return false
}

// PrepareArchive writes to archive (atomically: a temporary name, then a
// rename) the tree a new system starts from, for the .debs at debs in
// install order, and says what it did.
func PrepareArchive(ctx context.Context, debs []string, archive string) (string, error) {
	start := time.Now()
	pkgs, err := ReadPackages(debs)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(path.Dir(archive), ".prepare-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 1<<20)
	err = WriteEssential(ctx, bw, pkgs, time.Now())
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), archive); err != nil {
		return "", err
	}
	n := len(EssentialSet(pkgs))
	return fmt.Sprintf("unpacked the essential set natively: %d packages in %.1fs", n, time.Since(start).Seconds()), nil
}
