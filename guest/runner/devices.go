package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/loopdev"
	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
	"golang.org/x/sys/unix"
)

// stageDevices are a stage's devices, attached by the runner before the
// stage, and its mounts, which the stage's setup process makes: what the
// sandbox gets (nodes, mounts) and what the arguments say of them, in
// osbuild's shape (osbuild/pipeline.py Stage.run):
//
//	"devices": {"<name>": {"path": "/dev/loop0", "node": {"major": 7, "minor": 0}}}
//	"mounts":  {"<name>": {"path": "/run/osbuild/mounts/boot/efi"}}
type stageDevices struct {
	loops     map[string]*loopdev.Device // by device name, in attach order below
	order     []string
	nodes     []sandbox.Node
	mounts    []sandbox.Mount
	devArgs   map[string]any
	mountArgs map[string]any
}

// loopbackOptions are org.osbuild.loopback's options. Lock is accepted
// and does nothing: osbuild locks the device against udev, which the
// guest does not run, and nothing else in the guest opens it.
type loopbackOptions struct {
	Filename   string       `json:"filename"`
	Start      *json.Number `json:"start"`
	Size       *json.Number `json:"size"`
	SectorSize *json.Number `json:"sector-size"`
	Lock       bool         `json:"lock"`
	PartScan   bool         `json:"partscan"`
	ReadOnly   bool         `json:"read-only"`
}

// openDevices attaches p's devices and resolves its mounts. On error
// nothing stays attached.
func (r *Runner) openDevices(p *jsoncomm.StageRunParams) (*stageDevices, error) {
	sd := &stageDevices{loops: map[string]*loopdev.Device{}, devArgs: map[string]any{}, mountArgs: map[string]any{}}
	if (len(p.Devices) > 0 || len(p.Mounts) > 0) && r.cfg.DeviceModules != nil {
		r.cfg.DeviceModules()
	}
	for _, d := range p.Devices {
		if err := sd.attach(r.treeDir(p.Tree), d); err != nil {
			sd.close()
			return nil, fmt.Errorf("stage %s: device %s: %w", p.Type, d.Name, err)
		}
	}
	for _, m := range p.Mounts {
		if err := sd.mount(m); err != nil {
			sd.close()
			return nil, fmt.Errorf("stage %s: mount %s: %w", p.Type, m.Name, err)
		}
	}
	return sd, nil
}

func (sd *stageDevices) attach(tree string, d jsoncomm.StageDevice) error {
	if d.Type != "org.osbuild.loopback" {
		return jsoncomm.Errorf(jsoncomm.ErrUnsupported, "device type %q is not supported in the VM; use org.osbuild.loopback", d.Type)
	}
	if _, dup := sd.loops[d.Name]; dup || !sandbox.Component(d.Name) {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "device name %q", d.Name)
	}
	var o loopbackOptions
	dec := json.NewDecoder(bytes.NewReader(objectOrEmpty(d.Options)))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "options: %v", err)
	}
	f, lo, err := openBacking(tree, o)
	if err != nil {
		return err
	}
	defer f.Close() // the loop device holds its own reference
	dev, err := loopdev.Attach(f, lo)
	if err != nil {
		return err
	}
	sd.loops[d.Name], sd.order = dev, append(sd.order, d.Name)
	sd.nodes = append(sd.nodes, sandbox.Node{Name: dev.Name, Major: dev.Major, Minor: dev.Minor})
	for _, part := range dev.Partitions {
		sd.nodes = append(sd.nodes, sandbox.Node{Name: part.Name, Major: part.Major, Minor: part.Minor})
	}
	sd.devArgs[d.Name] = map[string]any{
		"path": "/dev/" + dev.Name,
		"node": map[string]uint32{"major": dev.Major, "minor": dev.Minor},
	}
	return nil
}

// openBacking opens the loopback's file below the tree, never through a
// symlink, and turns its options (in sectors) into bytes: the device
// covers [start, start+size) of the file, or to its end when size is not
// given, as osbuild's loopback does.
func openBacking(tree string, o loopbackOptions) (*os.File, loopdev.Options, error) {
	var lo loopdev.Options
	sector, err := sectors(o.SectorSize, 512)
	if err != nil || sector < 512 || sector > 4096 || sector&(sector-1) != 0 {
		return nil, lo, jsoncomm.Errorf(jsoncomm.ErrInvalid, "sector-size must be a power of two from 512 to 4096")
	}
	start, err1 := sectors(o.Start, 0)
	size, err2 := sectors(o.Size, 0)
	if err := errors.Join(err1, err2); err != nil {
		return nil, lo, jsoncomm.Errorf(jsoncomm.ErrInvalid, "%v", err)
	}
	f, err := openInTree(tree, o.Filename, o.ReadOnly)
	if err != nil {
		return nil, lo, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, lo, err
	}
	lo = loopdev.Options{Offset: start * sector, SizeLimit: size * sector, SectorSize: uint32(sector), PartScan: o.PartScan, ReadOnly: o.ReadOnly}
	if lo.SizeLimit == 0 {
		lo.SizeLimit = fi.Size() - lo.Offset
	}
	if lo.Offset >= fi.Size() || lo.Offset+lo.SizeLimit > fi.Size() || lo.SizeLimit <= 0 {
		f.Close()
		return nil, lo, jsoncomm.Errorf(jsoncomm.ErrInvalid, "%s is %d bytes; start %d and size %d (in %d-byte sectors) reach past its end",
			o.Filename, fi.Size(), start, size, sector)
	}
	return f, lo, nil
}

// sectors reads a sector count (osbuild's schema says "number"): a
// whole, non-negative number that fits in a file offset.
func sectors(n *json.Number, def int64) (int64, error) {
	if n == nil {
		return def, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f > 1<<50 {
		return 0, fmt.Errorf("%s is not a whole number of sectors", n)
	}
	return int64(f), nil
}

// openInTree opens the regular file name (a path in the tree, leading "/"
// or not) without leaving the tree or following a symlink.
func openInTree(tree, name string, readOnly bool) (*os.File, error) {
	rel := strings.TrimLeft(path.Clean("/"+name), "/")
	if name == "" || rel == "" {
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "filename %q names no file", name)
	}
	root, err := unix.Open(tree, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	flags := unix.O_RDWR
	if readOnly {
		flags = unix.O_RDONLY
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, jsoncomm.Errorf(jsoncomm.ErrNotFound, "file %s is not in the tree (make it first, with org.osbuild.truncate)", name)
	case errors.Is(err, unix.ELOOP):
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "file %s: a symlink on the way", name)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "%s is not a regular file", name)
	}
	return f, nil
}

// mountTypes maps osbuild's mount modules to kernel file system types
// (osbuild's mount services call mount -t with these).
var mountTypes = map[string]string{
	"org.osbuild.ext4": "ext4", "org.osbuild.fat": "vfat",
	"org.osbuild.xfs": "xfs", "org.osbuild.btrfs": "btrfs",
}

// mountOptions are the options of osbuild's file system mounts; each
// module's schema allows its own subset.
type mountOptions struct {
	ReadOnly   bool    `json:"readonly"`
	NoRecovery bool    `json:"norecovery"`
	UID        *int64  `json:"uid"`
	GID        *int64  `json:"gid"`
	Umask      *string `json:"umask"`
	Shortname  *string `json:"shortname"`
	Subvol     *string `json:"subvol"`
	Compress   *string `json:"compress"`
}

func (sd *stageDevices) mount(m jsoncomm.StageMount) error {
	fstype, ok := mountTypes[m.Type]
	if !ok {
		return jsoncomm.Errorf(jsoncomm.ErrUnsupported, "mount type %q is not supported in the VM; use org.osbuild.ext4, fat, xfs or btrfs", m.Type)
	}
	source, err := sd.source(m)
	if err != nil {
		return err
	}
	var o mountOptions
	if err := json.Unmarshal(objectOrEmpty(m.Options), &o); err != nil {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "options: %v", err)
	}
	flags, data, err := o.kernel()
	if err != nil {
		return err
	}
	target := path.Clean("/" + m.Target)
	sd.mounts = append(sd.mounts, sandbox.Mount{Name: m.Name, Source: source, FSType: fstype, Target: target, Flags: flags, Data: data})
	rel := strings.TrimPrefix(target, "/")
	if rel == "" {
		rel = "." // osbuild hands os.path.relpath's "." for the root of the mounts
	}
	sd.mountArgs[m.Name] = map[string]string{"path": stageMounts + "/" + rel}
	return nil
}

// source is the node of the mount's device, or of its partition.
func (sd *stageDevices) source(m jsoncomm.StageMount) (string, error) {
	dev, ok := sd.loops[m.Source]
	if !ok {
		return "", jsoncomm.Errorf(jsoncomm.ErrInvalid, "source %q is not a device of this stage", m.Source)
	}
	if m.Partition == nil {
		return dev.Name, nil
	}
	part, ok := dev.Partition(*m.Partition)
	if !ok {
		return "", jsoncomm.Errorf(jsoncomm.ErrNotFound, "device %s (%s) has no partition %d; %s",
			m.Source, dev.Name, *m.Partition, partitionHint(dev))
	}
	return part.Name, nil
}

func partitionHint(dev *loopdev.Device) string {
	if len(dev.Partitions) == 0 {
		return "the kernel found no partition table there (is partscan set, and did an earlier stage write the table?)"
	}
	nums := make([]string, len(dev.Partitions))
	for i, p := range dev.Partitions {
		nums[i] = fmt.Sprint(p.Number)
	}
	return "it has " + strings.Join(nums, ", ")
}

// kernel turns the options into mount(2)'s flags and data, in the order
// osbuild's FileSystemMountService.translate_options writes them.
func (o mountOptions) kernel() (uintptr, string, error) {
	var flags uintptr
	var data []string
	if o.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if o.NoRecovery {
		data = append(data, "norecovery")
	}
	if o.UID != nil {
		data = append(data, fmt.Sprintf("uid=%d", *o.UID))
	}
	if o.GID != nil {
		data = append(data, fmt.Sprintf("gid=%d", *o.GID))
	}
	for _, kv := range []struct {
		key string
		val *string
	}{{"umask", o.Umask}, {"shortname", o.Shortname}, {"subvol", o.Subvol}, {"compress", o.Compress}} {
		if kv.val == nil {
			continue
		}
		if strings.ContainsAny(*kv.val, ",=\x00") {
			return 0, "", jsoncomm.Errorf(jsoncomm.ErrInvalid, "option %s %q", kv.key, *kv.val)
		}
		data = append(data, kv.key+"="+*kv.val)
	}
	return flags, strings.Join(data, ","), nil
}

// close detaches every device, last attached first, and says which did
// not let go.
func (sd *stageDevices) close() error {
	if sd == nil {
		return nil
	}
	var errs []error
	for i := len(sd.order) - 1; i >= 0; i-- {
		name := sd.order[i]
		if err := sd.loops[name].Detach(); err != nil {
			errs = append(errs, fmt.Errorf("device %s: %w", name, err))
		}
	}
	sd.order = nil
	return errors.Join(errs...)
}
