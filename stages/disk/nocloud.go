package disk

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kdomanski/iso9660"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// Offsets in an ISO 9660 image of the primary volume descriptor (sector
// 16) and of the dates in it that kdomanski/iso9660 takes from the clock:
// creation, modification and effective (expiration it leaves empty).
const (
	pvdOffset     = 16 * 2048
	pvdCreated    = 813
	pvdModified   = 830
	pvdEffective  = 864
	nocloudVolume = "cidata"
)

// NocloudSeed implements org.osbuild.nocloud.seed (ours): cloud-init's
// NoCloud seed, an ISO 9660 volume labelled "cidata" holding user-data and
// meta-data (and network-config when given) from the options, written in
// Go with github.com/kdomanski/iso9660 (no tool needed in the build root).
// That writer dates the volume with the clock; the dates are rewritten
// from the pipeline's source-epoch (or the epoch 0), so the seed is the
// same bytes on every run.
func NocloudSeed(_ context.Context, args *api.Arguments) error {
	var o struct {
		Filename      string  `json:"filename"`
		UserData      string  `json:"user-data"`
		MetaData      string  `json:"meta-data"`
		NetworkConfig *string `json:"network-config"`
	}
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	out, err := api.Root(args.Tree).Resolve(o.Filename)
	if err != nil {
		return err
	}
	files := [][2]string{{"meta-data", o.MetaData}, {"user-data", o.UserData}}
	if o.NetworkConfig != nil {
		files = append(files, [2]string{"network-config", *o.NetworkConfig})
	}
	epoch := time.Unix(0, 0).UTC()
	if args.SourceEpoch != nil {
		epoch = *args.SourceEpoch
	}
	if err := writeSeed(out, files, epoch); err != nil {
		return fmt.Errorf("nocloud seed %s: %w", o.Filename, err)
	}
	return nil
}

func writeSeed(out string, files [][2]string, epoch time.Time) error {
	w, err := iso9660.NewWriter()
	if err != nil {
		return err
	}
	defer w.Cleanup()
	for _, f := range files {
		if err := w.AddFile(strings.NewReader(f[1]), f[0]); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := w.WriteTo(f, nocloudVolume); err != nil {
		return err
	}
	stamp := iso9660.VolumeDescriptorTimestampFromTime(epoch.UTC())
	date, err := stamp.MarshalBinary()
	if err != nil {
		return err
	}
	for _, off := range []int64{pvdCreated, pvdModified, pvdEffective} {
		if _, err := f.WriteAt(date, pvdOffset+off); err != nil {
			return err
		}
	}
	return f.Close()
}
