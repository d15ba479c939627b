package jsoncomm

import "encoding/json"

// Methods the agent serves. Each names its params and result types below.
const (
	// MethodPing: Empty -> Empty. Measures the round trip.
	MethodPing = "ping"
	// MethodInfo: Empty -> Info.
	MethodInfo = "info"
	// MethodReadFile: ReadFileParams -> FileData. Paths are guest paths,
	// normally under SharesDir.
	MethodReadFile = "file.read"
	// MethodWriteFile: WriteFileParams -> Empty.
	MethodWriteFile = "file.write"
	// MethodShutdown: Empty -> Empty. The agent replies, syncs and powers
	// the VM off.
	MethodShutdown = "shutdown"

	// MethodTreeOpen: TreeOpenParams -> TreeInfo. Makes a working tree on
	// the guest-local filesystem, empty or unpacked from an archive.
	MethodTreeOpen = "tree.open"
	// MethodTreeSave: TreeSaveParams -> TreeInfo. Writes a working tree as
	// an archive into a writable share.
	MethodTreeSave = "tree.save"
	// MethodTreeClose: TreeRef -> Empty. Frees a working tree.
	MethodTreeClose = "tree.close"
	// MethodStageRun: StageRunParams -> StageResult. Runs one stage on a
	// working tree, streaming its output as log messages.
	MethodStageRun = "stage.run"
)

// Empty is the params or result of methods that take or give nothing.
type Empty struct{}

// Info describes the running guest.
type Info struct {
	Arch    string   `json:"arch"`
	Kernel  string   `json:"kernel"`
	Agent   string   `json:"agent"`
	Modules []string `json:"modules"`
	Shares  []Share  `json:"shares"`
	// BootMillis is the guest's uptime when the agent became ready.
	BootMillis int64 `json:"boot_ms"`
}

// Share is one virtiofs share as the agent mounted it.
type Share struct {
	Tag      string `json:"tag"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readonly"`
}

// ReadFileParams asks for a file's content, at most MaxFileSize bytes.
type ReadFileParams struct {
	Path string `json:"path"`
}

// MaxFileSize bounds file.read and file.write; larger data goes through
// shares.
const MaxFileSize = 4 << 20

// FileData is a file's content.
type FileData struct {
	Data []byte `json:"data"`
}

// WriteFileParams writes (creates or replaces) a file.
type WriteFileParams struct {
	Path string `json:"path"`
	Data []byte `json:"data"`
	Mode uint32 `json:"mode"`
}

// TreeRef names a working tree in the guest. Names are chosen by the host
// (a pipeline's ID, say) and are [A-Za-z0-9._-]{1,128}.
type TreeRef struct {
	Tree string `json:"tree"`
}

// TreeOpenParams creates working tree Tree. From, when set, is a guest
// path of a tree archive (in a share) to unpack into it.
type TreeOpenParams struct {
	Tree string `json:"tree"`
	From string `json:"from,omitempty"`
}

// TreeSaveParams archives working tree Tree to To (a guest path in a
// writable share). The archive is a PAX tar, entries sorted by path, so the
// same tree gives the same bytes.
type TreeSaveParams struct {
	Tree string `json:"tree"`
	To   string `json:"to"`
}

// TreeInfo reports a working tree's size, and for tree.save the archive's
// path. It carries no digest: the host, which must not trust the guest's
// word, hashes each archive itself as it copies it out of the share (and
// hashing under TCG was slow).
type TreeInfo struct {
	Tree    string `json:"tree"`
	Files   int64  `json:"files"`
	Bytes   int64  `json:"bytes"`
	Archive string `json:"archive,omitempty"`
}

// StageRunParams runs stage Stage on working tree Tree.
type StageRunParams struct {
	Tree string `json:"tree"`
	// BuildRoot is the working tree used as the stage's root filesystem;
	// empty means the agent's own minimal root (built-in stages only).
	BuildRoot string `json:"build_root,omitempty"`
	// Type is the module name, e.g. "org.osbuild.mkdir".
	Type string `json:"type"`
	// Kind is "stages" or "assemblers".
	Kind string `json:"kind"`
	// ID is the stage's content ID, handed to the stage as meta.id.
	ID string `json:"id"`
	// Executable is the guest path of the stage program (in a libdir
	// share); empty means the built-in stage of that type.
	Executable string `json:"executable,omitempty"`
	// Options is the stage's options object.
	Options json.RawMessage `json:"options"`
	// Inputs maps each input name to what the stage sees.
	Inputs map[string]StageInput `json:"inputs,omitempty"`
	// Devices are set up before the stage, parents before children, and
	// torn down after it in reverse order.
	Devices []StageDevice `json:"devices,omitempty"`
	// Mounts are mounted in order below /run/osbuild/mounts in the stage's
	// namespace before it starts, and unmounted in reverse after it.
	Mounts []StageMount `json:"mounts,omitempty"`
	// SourceEpoch sets SOURCE_DATE_EPOCH for the stage when non-nil.
	SourceEpoch *int64 `json:"source_epoch,omitempty"`
	// TimeoutSeconds bounds the stage; 0 means no limit.
	TimeoutSeconds float64 `json:"timeout_s,omitempty"`
}

// StageDevice is one of a stage's devices, as the manifest gives it
// (osbuild's device modules, e.g. org.osbuild.loopback).
type StageDevice struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Parent  string          `json:"parent,omitempty"`
	Options json.RawMessage `json:"options,omitempty"`
}

// StageMount is one of a stage's mounts, as the manifest gives it
// (osbuild's mount modules, e.g. org.osbuild.ext4). Source names a
// device of the same stage; Partition, when set, a partition of it
// (starting at 1).
type StageMount struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Source    string          `json:"source,omitempty"`
	Partition *int            `json:"partition,omitempty"`
	Target    string          `json:"target"`
	Options   json.RawMessage `json:"options,omitempty"`
}

// StageInput is one input as the agent mounts it for a stage at
// /run/osbuild/inputs/<name>: either a directory of a share (source files)
// or another working tree, read-only either way.
type StageInput struct {
	// Type is the input module, e.g. "org.osbuild.files".
	Type string `json:"type"`
	// Path is a guest directory to expose (for files inputs: the sources
	// share's directory of files named by checksum).
	Path string `json:"path,omitempty"`
	// Files, for a Path input, lists the names of the files in Path the
	// stage may see (checksums); the agent exposes only those. Empty
	// exposes all of Path.
	Files []string `json:"files,omitempty"`
	// Tree is a working tree to expose instead of Path.
	Tree string `json:"tree,omitempty"`
	// Data is the input's "data" in osbuild's arguments format.
	Data json.RawMessage `json:"data"`
}

// StageResult is how a stage ended. A stage that exits non-zero is a
// result with Success false, not a call error; call errors mean the agent
// could not run the stage at all.
type StageResult struct {
	Success  bool            `json:"success"`
	ExitCode int             `json:"exit_code"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Millis   int64           `json:"ms"`
}
