package bootstrap

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
)

// Unpacked is where WriteEssential leaves, for each package it unpacked
// and in unpack order (directories 0000, 0001, ...), what `dpkg --unpack`
// would still do with it: a "tmp.ci" directory of its control members, as
// dpkg extracts them to run the preinst from, and the "status" stanza
// dpkg records once the package is unpacked. The install stage runs each
// preinst and then adds the stanza, as dpkg does, and removes this.
const Unpacked = "var/lib/dpkg/osbuild-vm-unpacked"

// maxConffiles bounds the conffile contents kept in memory per package
// (they are written twice: in place and as .dpkg-new).
const maxConffiles = 16 << 20

// record is what dpkg --unpack records of one newly installed package,
// collected while its data archive is unpacked.
type record struct {
	stem      string // info file name stem: "name", or "name:arch" for Multi-Arch: same
	ctl       *debfile.Control
	list      []string               // the package's paths in archive order, "/." first
	md5       []string               // md5sums lines computed, for a package that ships none
	conffiles map[string][]byte      // conffile (archive path) -> content
	confHdrs  map[string]*tar.Header // its entry
	kept      int64
}

func newRecord(ctl *debfile.Control) *record {
	r := &record{ctl: ctl, stem: ctl.Package(), conffiles: map[string][]byte{}, confHdrs: map[string]*tar.Header{}}
	if ctl.Fields.Value("Multi-Arch") == "same" {
		r.stem += ":" + ctl.Fields.Value("Architecture")
	}
	for _, c := range r.conffileNames() {
		r.conffiles[c] = nil
	}
	return r
}

// conffileNames are the package's conffiles (lines with flags, such as
// remove-on-upgrade, name no file the package ships).
func (r *record) conffileNames() []string {
	var out []string
	for _, line := range strings.Split(string(r.ctl.Files["conffiles"].Data), "\n") {
		if f := strings.Fields(line); len(f) == 1 && strings.HasPrefix(f[0], "/") {
			out = append(out, path.Clean(f[0]))
		}
	}
	return out
}

// dpkgName is the name dpkg's file database keeps for an archive entry:
// "/." for the root, else "/" and the path without a trailing slash.
func dpkgName(name string) string {
	c := path.Clean("/" + strings.TrimPrefix(name, "./"))
	if c == "/" {
		return "/."
	}
	return c
}

// entry notes one data.tar entry and returns the reader its content is
// to be copied from (feeding md5 and the conffile copy on the way).
func (r *record) entry(h *tar.Header, content io.Reader) (io.Reader, func() error) {
	name := dpkgName(h.Name)
	r.list = append(r.list, name)
	if h.Typeflag != tar.TypeReg {
		return content, func() error { return nil }
	}
	var ws []io.Writer
	sum := md5.New()
	_, ships := r.ctl.Files["md5sums"]
	if !ships {
		ws = append(ws, sum)
	}
	var conf *bytes.Buffer
	if _, ok := r.conffiles[name]; ok {
		if r.kept += h.Size; r.kept > maxConffiles {
			return nil, func() error { return fmt.Errorf("conffiles larger than %d bytes: %w", maxConffiles, ErrUnpack) }
		}
		conf = &bytes.Buffer{}
		ws = append(ws, conf)
		hc := *h
		r.confHdrs[name] = &hc
	}
	if len(ws) == 0 {
		return content, func() error { return nil }
	}
	return io.TeeReader(content, io.MultiWriter(ws...)), func() error {
		if !ships {
			r.md5 = append(r.md5, hex.EncodeToString(sum.Sum(nil))+"  "+name[1:])
		}
		if conf != nil {
			r.conffiles[name] = conf.Bytes()
		}
		return nil
	}
}

// infoFiles are the files dpkg puts in /var/lib/dpkg/info for the
// package: its file list, every control member but control (names with a
// dot are not installed), and md5sums made from the contents when the
// package ships none.
func (r *record) infoFiles() []infoFile {
	out := []infoFile{{name: r.stem + ".list", data: []byte(strings.Join(r.list, "\n") + "\n"), mode: 0o644}}
	for _, n := range sortedNames(r.ctl.Files) {
		if n == "control" || n == "list" || strings.Contains(n, ".") {
			continue
		}
		f := r.ctl.Files[n]
		out = append(out, infoFile{name: r.stem + "." + n, data: f.Data, mode: int64(f.Mode), mtime: f.ModTime})
	}
	if _, ships := r.ctl.Files["md5sums"]; !ships && len(r.md5) > 0 {
		out = append(out, infoFile{name: r.stem + ".md5sums", data: []byte(strings.Join(r.md5, "\n") + "\n"), mode: 0o644})
	}
	return out
}

type infoFile struct {
	name  string
	data  []byte
	mode  int64
	mtime time.Time
}

// stanza is the package's dpkg status entry once unpacked: its control
// file as it is, with Status after Package, and its conffiles, each
// marked newconffile as dpkg marks a conffile never configured. dpkg
// writes the status file in its own field order the next time it runs.
func (r *record) stanza() string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(strings.TrimRight(string(r.ctl.Files["control"].Data), "\n")+"\n", "\n") {
		b.WriteString(line)
		if strings.HasPrefix(line, "Package:") {
			b.WriteString("Status: install ok unpacked\n")
		}
	}
	if names := r.conffileNames(); len(names) > 0 {
		b.WriteString("Conffiles:\n")
		for _, n := range names {
			fmt.Fprintf(&b, " %s newconffile\n", n)
		}
	}
	return b.String()
}

// interests are the triggers packages said they are interested in, in
// the files dpkg keeps them in: /var/lib/dpkg/triggers/File for file
// triggers ("/path pkg[/noawait]"), triggers/<name> for explicit ones.
type interests struct {
	file     []string
	explicit map[string][]string
	order    []string
}

func (in *interests) add(r *record) {
	for _, line := range strings.Split(string(r.ctl.Files["triggers"].Data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[0], "interest") {
			continue
		}
		who := r.stem
		if f[0] == "interest-noawait" {
			who += "/noawait"
		}
		if strings.HasPrefix(f[1], "/") {
			in.file = append(in.file, f[1]+" "+who)
			continue
		}
		if in.explicit == nil {
			in.explicit = map[string][]string{}
		}
		if _, ok := in.explicit[f[1]]; !ok {
			in.order = append(in.order, f[1])
		}
		in.explicit[f[1]] = append(in.explicit[f[1]], who)
	}
}

func sortedNames(files map[string]debfile.ControlFile) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
