package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/osbuild-vm/osbuild-vm/engine/monitor"
)

// execConfigFrom turns the parsed flags into what execute needs.
func execConfigFrom(opts *runOptions, stdout, stderr io.Writer) (execConfig, error) {
	mon, err := monitor.New(opts.Monitor, monitorWriter(opts, stdout, stderr))
	if err != nil {
		return execConfig{}, exitf(ExitInvalid, "--monitor: %v", err)
	}
	cfg := execConfig{
		ManifestPath: opts.ManifestName, StoreDir: opts.Store, OutputDir: opts.OutputDirectory,
		Checkpoints: opts.CheckpointIDs, Exports: opts.Exports, Libdirs: opts.Libdirs,
		Monitor: mon, JSON: opts.JSON, StageTimeout: opts.StageTimeout,
		Arch: opts.Arch, Accel: opts.Accel, MemoryMiB: int(opts.Memory >> 20), CPUs: opts.CPUs,
		Mirror: opts.Mirror, VMKernel: opts.VMKernel, Debug: os.Getenv("OSBUILD_VM_DEBUG") == "1",
		Remote: opts.Remote,
	}
	if opts.CacheMaxSet {
		size := opts.CacheMaxSize
		cfg.MaxSize = &size
	}
	return cfg, nil
}

// monitorWriter is where progress goes: --monitor-fd when it names
// another descriptor; otherwise human progress goes to stderr (stdout
// carries --json and artifacts' names) and JSON records to stdout, as
// osbuild's default fd.
func monitorWriter(opts *runOptions, stdout, stderr io.Writer) io.Writer {
	switch opts.MonitorFD {
	case 1:
		if opts.Monitor == "LogMonitor" {
			return stderr
		}
		return stdout
	case 2:
		return stderr
	}
	return os.NewFile(uintptr(opts.MonitorFD), fmt.Sprintf("monitor-fd-%d", opts.MonitorFD))
}
