// Package loopdev attaches a file to a loop device and detaches it again:
// what a stage's org.osbuild.loopback device is in the guest. The runner
// attaches before the stage and detaches after it, whatever happened, and
// checks that the kernel really let go of the file, so that no loop device
// outlives its stage and every write has reached the file before the next
// stage reads it.
//
// The device is configured in one LOOP_CONFIGURE call (offset, size
// limit, logical block size, read-only and partition scanning together),
// as util-linux's losetup does on kernels since 5.8, with autoclear set so
// that the kernel frees it should the runner's descriptor go without a
// detach. Partitions the kernel found are read from sysfs.
package loopdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Where the kernel's devices and their sysfs entries are. Variables so
// that a test can tell what it looks at; the guest uses these.
var (
	DevDir = "/dev"
	SysDir = "/sys/block"
)

// Options says which part of the file the device shows, and how.
type Options struct {
	// Offset is where the device starts in the file, in bytes.
	Offset int64
	// SizeLimit is the device's size in bytes; 0 means to the file's end.
	SizeLimit int64
	// SectorSize is the device's logical block size; 0 means 512.
	SectorSize uint32
	// PartScan has the kernel read the partition table.
	PartScan bool
	// ReadOnly makes the device refuse writes.
	ReadOnly bool
}

// Device is an attached loop device.
type Device struct {
	// Name is the kernel's name, e.g. "loop0".
	Name         string
	Major, Minor uint32
	// Partitions the kernel found (PartScan), by number.
	Partitions []Partition

	f *os.File // the device, held open until Detach
}

// Partition is one partition of a device, e.g. "loop0p1".
type Partition struct {
	Number       int
	Name         string
	Major, Minor uint32
}

// ErrBusy marks a device that is still in use when it should be free:
// something still holds it (a mount, an open descriptor).
var ErrBusy = errors.New("loop device still in use")

// maxTries bounds the retries when another process takes the free device
// between LOOP_CTL_GET_FREE and LOOP_CONFIGURE.
const maxTries = 16

// Attach attaches backing to a free loop device.
func Attach(backing *os.File, o Options) (*Device, error) {
	if o.Offset < 0 || o.SizeLimit < 0 {
		return nil, fmt.Errorf("attach %s: negative offset or size", backing.Name())
	}
	ctl, err := os.OpenFile(filepath.Join(DevDir, "loop-control"), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", backing.Name(), err)
	}
	defer ctl.Close()
	for range maxTries {
		d, err := tryAttach(ctl, backing, o)
		if errors.Is(err, unix.EBUSY) {
			continue // taken meanwhile: ask for the next free one
		}
		if err != nil {
			return nil, fmt.Errorf("attach %s: %w", backing.Name(), err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("attach %s: no free loop device after %d tries", backing.Name(), maxTries)
}

func tryAttach(ctl, backing *os.File, o Options) (*Device, error) {
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		return nil, fmt.Errorf("find a free loop device: %w", err)
	}
	name := "loop" + strconv.Itoa(n)
	f, err := os.OpenFile(filepath.Join(DevDir, name), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := configure(f, backing, o); err != nil {
		f.Close()
		return nil, err
	}
	d := &Device{Name: name, f: f}
	if err := d.describe(); err != nil {
		d.Detach()
		return nil, err
	}
	return d, nil
}

func configure(f, backing *os.File, o Options) error {
	cfg := unix.LoopConfig{Fd: uint32(backing.Fd()), Size: o.SectorSize}
	if cfg.Size == 0 {
		cfg.Size = 512
	}
	cfg.Info.Offset = uint64(o.Offset)
	cfg.Info.Sizelimit = uint64(o.SizeLimit)
	cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
	if o.PartScan {
		cfg.Info.Flags |= unix.LO_FLAGS_PARTSCAN
	}
	if o.ReadOnly {
		cfg.Info.Flags |= unix.LO_FLAGS_READ_ONLY
	}
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], filepath.Base(backing.Name()))
	if err := unix.IoctlLoopConfigure(int(f.Fd()), &cfg); err != nil {
		return fmt.Errorf("configure %s: %w", f.Name(), err)
	}
	return nil
}

// describe reads the device's numbers and its partitions.
func (d *Device) describe() error {
	var st unix.Stat_t
	if err := unix.Fstat(int(d.f.Fd()), &st); err != nil {
		return err
	}
	d.Major, d.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	parts, err := partitions(d.Name)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", d.Name, err)
	}
	d.Partitions = parts
	return nil
}

// partitions lists /sys/block/<name>/<name>p<N> in number order.
func partitions(name string) ([]Partition, error) {
	entries, err := os.ReadDir(filepath.Join(SysDir, name))
	if err != nil {
		return nil, err
	}
	var out []Partition
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), name+"p")
		if !ok {
			continue
		}
		p, err := readPartition(filepath.Join(SysDir, name, e.Name()), e.Name(), num)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

func readPartition(dir, name, num string) (Partition, error) {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return Partition{}, fmt.Errorf("partition %s: bad number", name)
	}
	dev, err := os.ReadFile(filepath.Join(dir, "dev"))
	if err != nil {
		return Partition{}, err
	}
	maj, min, ok := strings.Cut(strings.TrimSpace(string(dev)), ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return Partition{}, fmt.Errorf("partition %s: bad dev %q", name, dev)
	}
	return Partition{Number: n, Name: name, Major: uint32(ma), Minor: uint32(mi)}, nil
}

// Partition returns partition n, if the kernel found it.
func (d *Device) Partition(n int) (Partition, bool) {
	for _, p := range d.Partitions {
		if p.Number == n {
			return p, true
		}
	}
	return Partition{}, false
}

// Detach writes what the device and its partitions still cache to the
// file, detaches it and checks it is free. It fails with ErrBusy when
// something still holds the device (the kernel then frees it once that
// lets go, as autoclear is set). Detach is safe to call twice.
//
// LOOP_CLR_FD detaches at once on older kernels (the guest's 6.1) when
// this is the only opener, and on newer ones at the last close: the check
// comes after the close.
func (d *Device) Detach() error {
	if d.f == nil {
		return nil
	}
	f := d.f
	d.f = nil
	errs := []error{flushPartitions(d)}
	if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0); err != nil {
		errs = append(errs, fmt.Errorf("flush %s: %w", d.Name, err))
	}
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil {
		errs = append(errs, fmt.Errorf("detach %s: %w", d.Name, err))
	}
	errs = append(errs, f.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if Attached(d.Name) {
		return fmt.Errorf("detach %s: %w", d.Name, ErrBusy)
	}
	return nil
}

// flushPartitions writes each partition's cached blocks to the device
// (the last close of a partition does so too; a stage may not have been
// the last to hold it).
func flushPartitions(d *Device) error {
	var errs []error
	for _, p := range d.Partitions {
		f, err := os.OpenFile(filepath.Join(DevDir, p.Name), os.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("flush %s: %w", p.Name, err))
			continue
		}
		if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0); err != nil {
			errs = append(errs, fmt.Errorf("flush %s: %w", p.Name, err))
		}
		f.Close()
	}
	return errors.Join(errs...)
}

// Attached reports whether loop device name still has a backing file.
func Attached(name string) bool {
	_, err := os.Stat(filepath.Join(SysDir, name, "loop", "backing_file"))
	return err == nil
}

// List returns the names of the loop devices that have a backing file:
// what tests check is empty after a stage.
func List() ([]string, error) {
	entries, err := os.ReadDir(SysDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "loop") && Attached(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
