package sysconf

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// ErrOstreeUnsupported is returned for fstab's ostree option: this
// project builds no ostree deployments.
var ErrOstreeUnsupported = errors.New("ostree deployments are not supported")

type filesystem struct {
	UUID      string  `json:"uuid"`
	Label     string  `json:"label"`
	PartLabel string  `json:"partlabel"`
	Device    string  `json:"device"`
	Path      string  `json:"path"`
	VFSType   string  `json:"vfs_type"`
	Options   string  `json:"options"`
	Freq      float64 `json:"freq"`
	PassNo    float64 `json:"passno"`
}

// Fstab replaces /etc/fstab with one line per filesystem, naming each by
// UUID, label, partition label or device, in that order of preference.
func Fstab(_ context.Context, args *api.Arguments) error {
	var opts struct {
		Filesystems []filesystem    `json:"filesystems"`
		Ostree      *map[string]any `json:"ostree"`
	}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	if opts.Ostree != nil {
		return ErrOstreeUnsupported
	}
	var b strings.Builder
	for _, fs := range opts.Filesystems {
		line, err := fs.line()
		if err != nil {
			return err
		}
		b.WriteString(line)
	}
	return api.Root(args.Tree).WriteFile("/etc/fstab", []byte(b.String()), 0o644)
}

func (f filesystem) line() (string, error) {
	var spec string
	switch {
	case f.UUID != "":
		spec = "UUID=" + f.UUID
	case f.Label != "":
		spec = "LABEL=" + f.Label
	case f.PartLabel != "":
		spec = "PARTLABEL=" + f.PartLabel
	case f.Device != "":
		spec = f.Device
	default:
		return "", fmt.Errorf("filesystem %q: %w: needs uuid, label, partlabel or device", f.Path, ErrInvalidValue)
	}
	vfs, options := f.VFSType, f.Options
	if vfs == "" {
		vfs = "none"
	}
	if options == "" {
		options = "defaults"
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\n", spec, f.Path, vfs, options, pyNumber(f.Freq), pyNumber(f.PassNo)), nil
}

// pyNumber formats a JSON number the way Python prints it: 1 stays 1,
// 1.5 stays 1.5 (fstab fields are integers in practice).
func pyNumber(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}
