// Package guestbin provides the guest binary (guest/cmd/osbuild-guest, the
// agent and the built-in stages) for each target architecture, to put into
// the build VM's initramfs.
//
// `make` cross-compiles both binaries into bin/ before building osbuild-vm,
// and they are embedded. A plain `go build` or `go test` has no such files;
// then Binary builds the one asked for from the module's source with the Go
// toolchain, into a cache directory keyed by a digest of the sources, so a
// second call (or test run) reuses it while the sources are unchanged.
//
// Cache layout (under os.UserCacheDir, or $OSBUILD_VM_GUESTBIN_CACHE):
//
//	osbuild-vm/guestbin/<sha256 of go version, arch and sources>/osbuild-guest-<arch>
package guestbin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
)

//go:embed all:bin
var embedded embed.FS

// Arches are the architectures there is a guest binary for.
var Arches = []string{"amd64", "arm64"}

var (
	// ErrUnknownArch is returned for an architecture not in Arches.
	ErrUnknownArch = errors.New("unknown guest architecture")
	// ErrUnavailable is returned when the binary is neither embedded nor
	// buildable here.
	ErrUnavailable = errors.New("guest binary unavailable")
)

// PackagePath is the guest binary's main package.
const PackagePath = "github.com/osbuild-vm/osbuild-vm/guest/cmd/osbuild-guest"

// VersionVar is the variable make sets to the guest's version.
const VersionVar = "github.com/osbuild-vm/osbuild-vm/guest/agent.Version"

// FileName is the binary's name in bin/ and in the cache.
func FileName(arch string) string { return "osbuild-guest-" + arch }

var (
	mu    sync.Mutex
	built = map[string][]byte{}
)

// Binary returns the static linux guest binary for arch ("amd64" or
// "arm64"): the embedded one, or one built from source (see the package
// doc). Building takes the Go toolchain some seconds the first time; ctx
// bounds it.
func Binary(ctx context.Context, arch string) ([]byte, error) {
	if !known(arch) {
		return nil, fmt.Errorf("guest binary for %q: %w (want amd64 or arm64)", arch, ErrUnknownArch)
	}
	if data, err := fs.ReadFile(embedded, "bin/"+FileName(arch)); err == nil && len(data) > 0 {
		return data, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if data := built[arch]; data != nil {
		return data, nil
	}
	data, err := buildCached(ctx, arch)
	if err != nil {
		return nil, fmt.Errorf("guest binary for %s: not embedded, and building it from source: %w; build osbuild-vm with make in a checkout, which embeds it", arch, err)
	}
	built[arch] = data
	return data, nil
}

// Embedded reports whether make embedded the binary for arch.
func Embedded(arch string) bool {
	fi, err := fs.Stat(embedded, "bin/"+FileName(arch))
	return err == nil && fi.Size() > 0
}

func known(arch string) bool {
	for _, a := range Arches {
		if a == arch {
			return true
		}
	}
	return false
}
