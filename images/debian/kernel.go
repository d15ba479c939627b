// Package debian provides what is Debian-specific about the build VM: the
// Debian cloud kernel it boots and the modules its guest agent loads,
// fetched from a signed Debian archive (see package archive), verified,
// and cached content-addressed in the store:
//
//	<store>/vm-kernels/
//	├── index/<sha256 of mirror, suite, arch>.json   which .deb that triple resolved to
//	└── <sha256 of the kernel .deb>/
//	    ├── vmlinuz          the kernel as packaged
//	    ├── Image            arm64 only, when vmlinuz is compressed: the raw image QEMU boots
//	    ├── modules/<name>.ko  uncompressed, only the needed modules and their dependencies
//	    └── kernel.json      the Kernel record (paths relative to the directory)
//
// A directory appears only complete (written under a temporary name, then
// renamed). A second VMKernel call for the same (mirror, suite, arch) reads
// the index and downloads nothing; KernelOptions.Refresh re-reads the
// archive to pick up a newer kernel.
package debian

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/kmod"
)

// Error classes, shared with package archive so errors.Is works on both.
var (
	ErrBadSignature   = archive.ErrBadSignature
	ErrDigestMismatch = archive.ErrDigestMismatch
	// ErrUnsupportedArch: only amd64 and arm64 build VMs exist.
	ErrUnsupportedArch = errors.New("unsupported architecture")
	// ErrNoKernel: no kernel image was found (in a package or a directory).
	ErrNoKernel = errors.New("no kernel image")
	// ErrSeveralKernels: a kernel directory holds more than one image.
	ErrSeveralKernels = errors.New("several kernel images")
	// ErrModuleMissing: a module the guest agent needs is neither a module
	// file nor built into the kernel.
	ErrModuleMissing = kmod.ErrMissing
)

// DefaultSuite is the Debian release whose kernel the build VM boots.
const DefaultSuite = "bookworm"

// NeededModules are the modules the guest agent needs, in the order it
// should load them; each one's dependencies are added before it, and those
// built into the kernel are left out.
//
// loop, vfat and its code pages serve stages' devices and mounts
// (org.osbuild.loopback, org.osbuild.fat; ext4 is built in): the guest has
// no modprobe for the kernel to load them on demand.
var NeededModules = []string{
	"virtio", "virtio_ring", "virtio_pci", "virtio_mmio", "virtio_console",
	"fuse", "virtiofs", "virtio_blk", "vsock", "vmw_vsock_virtio_transport",
	"loop", "overlay", "squashfs", "vfat", "nls_cp437", "nls_ascii", "nls_utf8",
}

// Module is one kernel module to load, in Kernel.Modules order.
type Module struct {
	Name string `json:"name"`
	// Path is the module file. In the store it is always a plain .ko; from
	// LoadKernelDir it may be .ko.xz/.ko.zst/.ko.gz: read it with Open.
	Path string `json:"path"`
}

// Open returns the module's uncompressed bytes, whatever its file form.
func (m Module) Open() (io.ReadCloser, error) {
	f, err := os.Open(m.Path)
	if err != nil {
		return nil, fmt.Errorf("open module %s: %w", m.Name, err)
	}
	rc, err := kmod.Decompress(m.Path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &closeBoth{ReadCloser: rc, f: f}, nil
}

type closeBoth struct {
	io.ReadCloser
	f *os.File
}

func (c *closeBoth) Close() error { return errors.Join(c.ReadCloser.Close(), c.f.Close()) }

// Kernel is a build-VM kernel ready to boot: QEMU's -kernel is Image, and
// the initramfs loads Modules in order.
type Kernel struct {
	// Dir holds the kernel's files.
	Dir string `json:"-"`
	// Image is the file to pass to QEMU's -kernel.
	Image string `json:"image"`
	// Version is the kernel release ("6.1.0-50-cloud-amd64"), "" if unknown.
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// Package, PackageVersion and SHA256 name the .deb it came from; empty
	// for LoadKernelDir.
	Package        string `json:"package,omitempty"`
	PackageVersion string `json:"package_version,omitempty"`
	SHA256         string `json:"sha256,omitempty"`
	// Modules, each after its dependencies.
	Modules []Module `json:"modules"`
	// Builtin lists needed modules the kernel has built in.
	Builtin []string `json:"builtin"`
}

// KernelOptions says which kernel VMKernel fetches and where it caches it.
type KernelOptions struct {
	// StoreDir is the osbuild store; kernels go under vm-kernels/.
	StoreDir string
	// Mirror is the archive URL; "" means ResolveMirror("").
	Mirror string
	// Suite defaults to DefaultSuite.
	Suite string
	// Arch is "amd64" or "arm64".
	Arch string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Refresh re-reads the archive even when the index knows a kernel for
	// (Mirror, Suite, Arch), to move to a newer kernel. Without it a cached
	// kernel is used with no network access at all.
	Refresh bool
	// Client, Keyring and Now are passed to archive.Archive (nil: defaults).
	Client  *http.Client
	Keyring openpgp.EntityList
	Now     func() time.Time
}

// CheckArch accepts the architectures a build VM can have.
func CheckArch(arch string) error {
	if arch != "amd64" && arch != "arm64" {
		return fmt.Errorf("architecture %q: %w; use amd64 or arm64", arch, ErrUnsupportedArch)
	}
	return nil
}

func (o *KernelOptions) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}
