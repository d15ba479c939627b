package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// loadModules loads the modules listed in root's order file and returns
// their names in file order. Each module is loaded in its own goroutine as
// soon as the modules it depends on are in, so independent ones (fuse and
// the virtio core, say) load in parallel on the VM's CPUs. A module the
// kernel already has (built in, or loaded) answers EEXIST, which is fine.
// A missing order file means an initramfs without modules: everything
// needed is built in.
func loadModules(root string, load loadFunc) ([]string, error) {
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
	if err := loadAll(root, entries, load); err != nil {
		return nil, err
	}
	return modorder.Names(entries), nil
}

// loadAll runs the loads of entries as a DAG. modorder.Parse guarantees
// that dependencies come first, so every wait is on a started goroutine.
func loadAll(root string, entries []modorder.Entry, load loadFunc) error {
	type result struct {
		done chan struct{}
		err  error
	}
	results := make(map[string]*result, len(entries))
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	for i, e := range entries {
		r := &result{done: make(chan struct{})}
		results[e.Name] = r
		deps := make([]*result, len(e.Deps))
		for j, d := range e.Deps {
			deps[j] = results[d]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(r.done)
			for j, d := range deps {
				if <-d.done; d.err != nil {
					r.err = fmt.Errorf("load module %s: needs %s, which failed", e.Name, e.Deps[j])
					return
				}
			}
			r.err = loadModule(filepath.Join(root, modorder.File(e.Name)), load)
			if r.err != nil {
				r.err = fmt.Errorf("load module %s: %w", e.Name, r.err)
				errs[i] = r.err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
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
