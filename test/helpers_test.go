// Package test holds the end-to-end tests: they run `osbuild-vm run`
// in-process on real manifests and boot real build VMs (TCG here), so
// each test costs a few seconds. Kernels come from a shared cache (see
// host/vm/vmtest), so they download once per machine.
package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/cli"
	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// result is one in-process run of the command line.
type result struct {
	stdout, stderr string
	code           int
}

// osbuildVM runs the CLI with args and returns what it printed and its
// exit code.
func osbuildVM(ctx context.Context, t *testing.T, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	err := runCLI(ctx, &out, &errb, args...)
	if err != nil && err.Error() != "" {
		errb.WriteString("osbuild-vm: " + err.Error() + "\n")
	}
	return result{out.String(), errb.String(), cli.ExitCode(ctx, err)}
}

// runCLI runs the command line in-process.
func runCLI(ctx context.Context, stdout, stderr io.Writer, args ...string) error {
	return cli.Run(ctx, args, strings.NewReader(""), stdout, stderr)
}

// syncBuffer is a bytes.Buffer safe for the monitor's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	on  func(string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.on != nil {
		b.on(string(p))
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) WriteString(s string) { b.Write([]byte(s)) }

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kernelDir is a cached kernel directory for arch, passed as --vm-kernel
// so that every test's fresh store does not download it again.
func kernelDir(t *testing.T, arch string) string {
	t.Helper()
	return vmtest.Boot(t, arch).Kernel.Dir
}

// vmArgs are the flags every VM test passes.
func vmArgs(t *testing.T, arch string) []string {
	return []string{"--arch", arch, "--vm-kernel", kernelDir(t, arch), "--store", t.TempDir()}
}

var (
	pkgOnce sync.Map // arch -> *pinned
)

type pinned struct {
	once sync.Once
	pkg  archive.Package
	err  error
}

// busybox pins Debian's busybox-static for arch from the host's mirror:
// a build root with real target binaries for the tests.
func busybox(t *testing.T, arch string) archive.Package {
	t.Helper()
	v, _ := pkgOnce.LoadOrStore(arch, &pinned{})
	p := v.(*pinned)
	p.once.Do(func() {
		mirror, err := archive.ResolveMirror("")
		if err != nil {
			p.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		a := &archive.Archive{Mirror: mirror, Suite: "bookworm"}
		p.pkg, p.err = a.ResolvePackage(ctx, arch, "busybox-static")
	})
	if p.err != nil {
		t.Fatalf("pin busybox-static for %s: %v", arch, p.err)
	}
	return p.pkg
}

// writeJSON writes v as a file in a temp dir and returns its path.
func writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarEntries reads a tar archive into name -> content (links as
// "-> target"); names lose a leading "./" and a trailing "/".
func tarEntries(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readTar(t, f, path)
}

// gzipTarEntries is tarEntries for a gzip-compressed archive.
func gzipTarEntries(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return readTar(t, zr, path)
}

func readTar(t *testing.T, r io.Reader, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		switch h.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			out[name] = "-> " + h.Linkname
		default:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s: %s: %v", path, name, err)
			}
			out[name] = string(b)
		}
	}
}

// keys lists a map's keys in order, for messages.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// storeLeftovers lists what a run left in the store's tmp/ (a finished run
// leaves nothing there) and any object without its tree.
func storeLeftovers(t *testing.T, store string) []string {
	t.Helper()
	var left []string
	tmp, _ := os.ReadDir(filepath.Join(store, "tmp"))
	for _, e := range tmp {
		left = append(left, "tmp/"+e.Name())
	}
	objs, _ := os.ReadDir(filepath.Join(store, "objects"))
	for _, e := range objs {
		if _, err := os.Stat(filepath.Join(store, "objects", e.Name(), "tree.tar")); err != nil {
			left = append(left, "objects/"+e.Name()+" without tree.tar")
		}
	}
	sort.Strings(left)
	return left
}

// noStrayProcesses fails t when a QEMU, virtiofsd or unshare that this
// test process started is still alive.
func noStrayProcesses(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ours []int
		for _, name := range []string{"qemu-system", "virtiofsd", "unshare"} {
			for _, pid := range vmtest.ProcessesMentioning(name) {
				if parentPID(pid) == os.Getpid() {
					ours = append(ours, pid)
				}
			}
		}
		if len(ours) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left running: %v", ours)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func parentPID(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
