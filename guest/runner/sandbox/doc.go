// Package sandbox is the short-lived process that puts one stage into its
// own view of the guest. The runner re-executes the guest binary with
// SetupArg in fresh mount, PID, IPC and UTS namespaces, usually ahead of
// time; Main waits for a Spec on its standard input, then builds the
// stage's root from it, enters it, starts the stage and stays behind as
// the namespace's PID 1: it reaps orphans, and once the stage ended it
// kills what is left, reports the stage's status (StatusFD) and exits
// with it. A built-in stage of the same binary runs in the setup process
// itself (Builtin), which saves an exec and a Go runtime start per stage;
// it is then the namespace's PID 1 (see inProcess for what that changes).
//
// The stage sees, and nothing else of the guest:
//
//	/                        the build root, read-only (or an empty read-only tmpfs)
//	/dev                     tmpfs: null zero full random urandom tty, pts, shm,
//	                         and the stage's block devices (Spec.Nodes)
//	/proc /sys               the namespace's proc; sysfs read-only
//	/run /tmp                fresh tmpfs
//	/run/osbuild/api/        read-only: arguments
//	/run/osbuild/meta        read-write file for the stage's metadata
//	/run/osbuild/tree/       the working tree, read-write
//	/run/osbuild/inputs/<n>/ each input, read-only
//	/run/osbuild/mounts/     the stage's mounts (Spec.Mounts), else empty
//	/run/osbuild/bin/<type>  the stage executable, read-only
//
// Before the stage starts, its capability bounding set is cut to the set
// upstream osbuild keeps (pipeline.py DEFAULT_CAPABILITIES): it may still
// mount and chown, it cannot load modules, reboot or do raw I/O. The
// runner cuts it before the setup process starts (DropBoundingSet), so
// that exec gives every thread of the setup process those sets only.
package sandbox

import (
	"encoding/json"
	"path"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// SetupArg is argv[1] of the setup process; the Spec arrives on stdin.
// The guest binary's main must hand such a process to Main before it
// checks for PID 1, since the setup process is PID 1 of its namespace.
const SetupArg = "__osbuild-vm-stage-setup"

// StatusFD is the descriptor on which Main reports how the stage went:
// StatusStarted when it started, then StatusExit and its exit code once it
// ended and every process of the namespace is gone; a jsoncomm.Error as
// JSON when it could not start; nothing when the setup process ended
// before either (killed, or a spare whose spec never came). The exit
// report comes before the setup process exits, so the runner need not
// wait for the namespaces' teardown.
const StatusFD = 3

// StatusStarted is what Main writes on StatusFD when the stage started.
const StatusStarted = "started"

// StatusExit follows StatusStarted on StatusFD, with the stage's exit code
// in decimal (as Main returns it), when the stage ended.
const StatusExit = "\nexit "

// SetupFailed is Main's exit code when it could not start the stage.
const SetupFailed = 125

// Spec says what to put where. Every path but Bin is a path in the agent's
// view, prepared by the runner.
type Spec struct {
	// Root is the build root directory; empty means a minimal root.
	Root string `json:"root,omitempty"`
	// Mountpoint is an empty directory where the new root is assembled.
	Mountpoint string `json:"mountpoint"`
	// Staging is an empty directory for read-only staging binds of inputs
	// that expose only some files.
	Staging string `json:"staging"`
	// API is the directory holding the arguments file.
	API string `json:"api"`
	// Meta is the file the stage may write its metadata to.
	Meta string `json:"meta"`
	// Tree is the working tree the stage modifies.
	Tree string `json:"tree"`
	// Inputs are exposed in order under /run/osbuild/inputs.
	Inputs []Input `json:"inputs,omitempty"`
	// Executable is the stage program; Bin is where the stage sees it
	// (/run/osbuild/bin/<type> or /run/osbuild/bin/assemblers/<type>).
	Executable string `json:"executable"`
	Bin        string `json:"bin"`
	// Env is the stage's whole environment.
	Env []string `json:"env"`
	// InProcess says Executable is the setup process's own binary, so a
	// built-in stage may run in the setup process itself (see Main).
	InProcess bool `json:"in-process,omitempty"`
	// Nodes are block devices made in the stage's /dev: its devices,
	// which the runner attached, and their partitions.
	Nodes []Node `json:"nodes,omitempty"`
	// Mounts are mounted in order before the stage starts, and unmounted
	// in reverse order after it ended and every process it left is gone.
	Mounts []Mount `json:"mounts,omitempty"`
}

// Input is one input directory; Files, when set, limits what the stage
// sees of Source to those files: names, or relative paths (a file of a
// pipeline's tree), each opened below Source without following a symlink.
type Input struct {
	Name   string   `json:"name"`
	Source string   `json:"source"`
	Files  []string `json:"files,omitempty"`
}

// BinDir is where stage executables appear.
const BinDir = "/run/osbuild/bin/"

func decodeSpec(data []byte) (*Spec, error) {
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "decode spec: %v", err)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// validate checks what Main relies on: absolute paths, a Bin below BinDir,
// and input and file names that are single path components.
func (s *Spec) validate() error {
	for _, p := range []string{s.Mountpoint, s.Staging, s.API, s.Meta, s.Tree, s.Executable, s.Bin} {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: path %q is not absolute and clean", p)
		}
	}
	if s.Root != "" && (!filepath.IsAbs(s.Root) || filepath.Clean(s.Root) != s.Root) {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: root %q is not absolute and clean", s.Root)
	}
	if !strings.HasPrefix(s.Bin, BinDir) {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: bin %q is not below %s", s.Bin, BinDir)
	}
	for _, in := range s.Inputs {
		if err := checkInput(in); err != nil {
			return err
		}
	}
	return s.validDevices()
}

func checkInput(in Input) error {
	if !Component(in.Name) || !filepath.IsAbs(in.Source) {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: input %q from %q", in.Name, in.Source)
	}
	for _, f := range in.Files {
		if !LocalPath(f) {
			return jsoncomm.Errorf(jsoncomm.ErrInvalid, "spec: input %s: file name %q", in.Name, f)
		}
	}
	return nil
}

// LocalPath reports whether p is a clean relative path of Components.
func LocalPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if !Component(c) {
			return false
		}
	}
	return true
}

// Component reports whether name is one usable path component: not empty,
// ".", "..", no "/" or NUL, at most 255 bytes.
func Component(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 &&
		!strings.ContainsAny(name, "/\x00")
}
