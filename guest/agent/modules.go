package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/initramfs/modorder"
	"github.com/u-root/u-root/pkg/kmodule"
	"golang.org/x/sys/unix"
)

// loadFunc loads one module object; finitModule in the guest, a fake in
// tests.
type loadFunc func(f *os.File) error

// finitModule loads f with finit_module(2) through u-root's kmodule.
func finitModule(f *os.File) error { return kmodule.FileInit(f, "", 0) }

// loadModules loads the modules listed in root's order file, one by one
// in file order (which puts every module after its dependencies), and
// returns their names. A module the kernel already has (built in, or
// loaded) answers EEXIST, which is fine. A missing order file means an
// initramfs without modules: everything needed is built in.
//
// Why not in parallel: loading independent modules concurrently (the order
// file has the dependencies for it) was measured slower under TCG on a
// loaded 2-core host, 670-1760 ms against 360-760 ms for the nine virtio
// and fuse modules: module loading makes the vCPUs interrupt each other
// (TLB flushes, text patching), and a vCPU thread the host has descheduled
// answers late.
func loadModules(root string, load loadFunc) ([]string, error) {
	entries, err := readOrder(root)
	if err != nil {
		return nil, err
	}
	return loadEntries(root, entries, load)
}

// readOrder reads root's order file; none means no modules.
func readOrder(root string) ([]modorder.Entry, error) {
	data, err := os.ReadFile(filepath.Join(root, modorder.Path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load modules: %w", err)
	}
	entries, err := modorder.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load modules: %w", err)
	}
	return entries, nil
}

func loadEntries(root string, entries []modorder.Entry, load loadFunc) ([]string, error) {
	for _, e := range entries {
		if err := loadModule(filepath.Join(root, modorder.File(e.Name)), load); err != nil {
			return nil, fmt.Errorf("load module %s: %w", e.Name, err)
		}
	}
	return modorder.Names(entries), nil
}

// lateModules are not needed to reach the host (the channel and the
// shares): block devices, loop, file systems (overlay, squashfs, FAT and
// its code pages), virtio-mmio, and vsock unless it is the channel.
// Loading them after the hello takes about a third of module loading off
// the boot under TCG.
var lateModules = map[string]bool{
	"virtio_blk": true, "loop": true, "overlay": true, "squashfs": true, "virtio_mmio": true,
	"fat": true, "vfat": true, "nls_cp437": true, "nls_ascii": true, "nls_utf8": true,
}

var vsockModules = map[string]bool{
	"vsock": true, "vmw_vsock_virtio_transport_common": true, "vmw_vsock_virtio_transport": true,
}

// splitModules separates the modules needed before the hello from those
// loaded after it, keeping the file's order (dependencies first) in each.
// A module that an early one depends on stays early.
func splitModules(entries []modorder.Entry, channel string) (early, late []modorder.Entry) {
	needed := map[string]bool{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		isLate := lateModules[e.Name] || (vsockModules[e.Name] && channel != ChannelVsock)
		if isLate && !needed[e.Name] {
			late = append([]modorder.Entry{e}, late...)
			continue
		}
		early = append([]modorder.Entry{e}, early...)
		for _, d := range e.Deps {
			needed[d] = true
		}
	}
	return early, late
}

func loadModule(path string, load loadFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := load(f); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return strings.TrimRight(string(u.Release[:]), "\x00")
}

// timed wraps load to log each module's load time in debug mode: module
// loading is one of the larger parts of the boot under TCG.
func timed(l *logger, load loadFunc) loadFunc {
	if !l.debug {
		return load
	}
	return func(f *os.File) error {
		t := uptime()
		err := load(f)
		l.phase("module %s: %v", filepath.Base(f.Name()), (uptime() - t).Round(time.Microsecond))
		return err
	}
}
