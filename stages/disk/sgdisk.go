package disk

import (
	"context"
	"fmt"
	"sort"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// sgdiskOptions are org.osbuild.sgdisk's options.
type sgdiskOptions struct {
	UUID               string            `json:"uuid"`
	QuotePartitionName *bool             `json:"quote_partition_name"`
	Partitions         []sfdiskPartition `json:"partitions"`
}

// Sgdisk implements org.osbuild.sgdisk: a GPT on the device "device" with
// sgdisk(8), one -n/-c/-u/-t/-A group per partition as upstream's stage
// passes them (partition names in double quotes unless
// quote_partition_name is false, which upstream keeps for old
// manifests). sgdisk lays out a table differently from sfdisk: a
// manifest keeps to one of them. With the table's and every partition's
// uuid the table is the same bytes on every run.
func Sgdisk(ctx context.Context, args *api.Arguments) error {
	var o sgdiskOptions
	if err := args.DecodeOptions(&o); err != nil {
		return err
	}
	dev, err := devicePath(args, "device")
	if err != nil {
		return err
	}
	size, err := deviceSize(dev)
	if err != nil {
		return err
	}
	if err := (&sfdiskOptions{Label: "gpt", Partitions: o.Partitions}).fits(size); err != nil {
		return err
	}
	if err := run(ctx, "sgdisk", o.args(dev)...); err != nil {
		return err
	}
	return run(ctx, "sgdisk", "-p", dev)
}

func (o *sgdiskOptions) args(dev string) []string {
	a := []string{"-Z", dev, "-g"}
	if o.UUID != "" {
		a = append(a, "-U", o.UUID)
	}
	quote := o.QuotePartitionName == nil || *o.QuotePartitionName
	for i, p := range o.Partitions {
		idx := i + 1
		if p.PartNum > 0 {
			idx = p.PartNum
		}
		size := "0"
		if p.Size > 0 {
			size = fmt.Sprintf("+%d", p.Size)
		}
		a = append(a, "-n", fmt.Sprintf("%d:%d:%s", idx, p.Start, size))
		if p.Name != "" {
			name := p.Name
			if quote {
				name = `"` + name + `"`
			}
			a = append(a, "-c", fmt.Sprintf("%d:%s", idx, name))
		}
		if p.UUID != "" {
			a = append(a, "-u", fmt.Sprintf("%d:%s", idx, p.UUID))
		}
		if p.Type != "" {
			a = append(a, "-t", fmt.Sprintf("%d:%s", idx, p.Type))
		}
		for _, bit := range p.attrBits() {
			a = append(a, "-A", fmt.Sprintf("%d:set:%d", idx, bit))
		}
	}
	return a
}

// attrBits are the attribute bits to set, sorted: attrs, and bit 2
// (legacy BIOS bootable) for bootable.
func (p sfdiskPartition) attrBits() []int {
	set := map[int]bool{}
	for _, b := range p.Attrs {
		set[b] = true
	}
	if p.Bootable {
		set[2] = true
	}
	bits := make([]int, 0, len(set))
	for b := range set {
		bits = append(bits, b)
	}
	sort.Ints(bits)
	return bits
}
