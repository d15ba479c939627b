// Package agent is the guest side of osbuild-vm: the program that runs as
// PID 1 in the build VM, sets the VM up (mounts, kernel modules, virtiofs
// shares), opens the control channel to the host and serves the jsoncomm
// methods on it until the host asks it to shut down.
//
// # Two processes
//
// The binary runs twice. As PID 1 (Init) it mounts the kernel file systems,
// starts itself again as the worker (argv[0] WorkerName) and then does
// nothing but reap: a blocking Wait4(-1) loop collects every process that
// ends in the VM, including the orphans of stages that double-fork. When the
// worker ends, PID 1 syncs and powers the VM off.
//
// The worker (Main) does the real work. Keeping it out of PID 1 means its
// children are its own: the stage runner can start and wait for processes
// with os/exec as usual, and no reaper can steal their exit status, since
// only orphans (whose parent died) reach PID 1. The price is one exec of the
// static binary at boot (a few milliseconds, see the package's timings in
// the report of the initramfs measurements).
//
// # Boot contract
//
// The host passes the jsoncomm Cmdline* keys on the kernel command line.
// The initramfs (package initramfs) carries the modules in
// /lib/modules/<name>.ko and their load order in /lib/modules/order
// (package modorder). Trees are built under WorkDir, a tmpfs sized to most
// of the VM's memory.
//
// # Logging
//
// With osbuildvm.debug=1 the agent writes each boot phase, with the time
// since the kernel started, to the console the host captures. Without it,
// only fatal errors are printed.
package agent

import "github.com/osbuild-vm/osbuild-vm/jsoncomm"

// Version is the agent's version, reported in the hello and in info. make
// sets it with -ldflags -X.
var Version = "dev"

const (
	// WorkerName is argv[0] of the worker process that PID 1 starts.
	WorkerName = "osbuild-agent"
	// WorkDir is the guest-local tmpfs where working trees live.
	WorkDir = "/run/osbuild-vm/work"
	// SharesDir is where shares are mounted (jsoncomm.SharesDir).
	SharesDir = jsoncomm.SharesDir
)
