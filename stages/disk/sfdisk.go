package disk

import (
	"context"
	"fmt"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// sfdiskOptions are org.osbuild.sfdisk's options.
type sfdiskOptions struct {
	Label      string            `json:"label"`
	UUID       string            `json:"uuid"`
	Partitions []sfdiskPartition `json:"partitions"`
}

type sfdiskPartition struct {
	Bootable bool   `json:"bootable"`
	Name     string `json:"name"`
	PartNum  int    `json:"partnum"`
	Size     int64  `json:"size"`
	Start    int64  `json:"start"`
	Type     string `json:"type"`
	UUID     string `json:"uuid"`
	Attrs    []int  `json:"attrs"`
}

// gptAttrs are the GPT attribute bits sfdisk knows by name.
var gptAttrs = map[int]string{0: "RequiredPartition", 1: "NoBlockIOProtocol", 2: "LegacyBIOSBootable"}

// Sfdisk implements org.osbuild.sfdisk: it writes the partition table of
// the stage's device "device" with sfdisk(8) from a script, as upstream's
// stage writes it. With the table's label-id and a uuid for every GPT
// partition the table is the same bytes on every run; without them
// sfdisk draws random ones.
func Sfdisk(ctx context.Context, args *api.Arguments) error {
	var o sfdiskOptions
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
	if err := o.fits(size); err != nil {
		return err
	}
	script := o.script(dev)
	fmt.Println(script)
	if err := runInput(ctx, strings.NewReader(script), "sfdisk", "-q", "--no-tell-kernel", dev); err != nil {
		return err
	}
	return run(ctx, "sfdisk", "--json", dev)
}

// script is the sfdisk input: the label and its id, then one line per
// partition with the fields that are set, in upstream's order.
func (o *sfdiskOptions) script(dev string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "label: %s\nlabel-id: %s", o.Label, o.UUID)
	for _, p := range o.Partitions {
		var fields []string
		add := func(k, v string) {
			if v != "" && v != "0" {
				fields = append(fields, fmt.Sprintf("%s=%q", k, v))
			}
		}
		add("start", fmt.Sprint(p.Start))
		add("size", fmt.Sprint(p.Size))
		add("type", p.Type)
		add("name", p.Name)
		add("uuid", p.UUID)
		add("attrs", p.attrs())
		if p.Bootable {
			fields = append(fields, "bootable")
		}
		b.WriteString("\n")
		if p.PartNum > 0 {
			fmt.Fprintf(&b, "%sp%d: ", dev, p.PartNum)
		}
		b.WriteString(strings.Join(fields, ", "))
	}
	return b.String()
}

// attrs names the attribute bits as sfdisk takes them: the known ones by
// name, the type-specific bits 48-63 by number, others dropped as
// upstream does.
func (p sfdiskPartition) attrs() string {
	var out []string
	for _, bit := range p.Attrs {
		if name, ok := gptAttrs[bit]; ok {
			out = append(out, name)
		} else if bit >= 48 && bit <= 63 {
			out = append(out, fmt.Sprint(bit))
		}
	}
	return strings.Join(out, ",")
}

// fits refuses partitions that end past the device, which sfdisk would
// reject with a less telling message: the table must fit in the image.
// A GPT keeps its last 33 sectors for the backup table.
func (o *sfdiskOptions) fits(size int64) error {
	last := size/512 - 1
	if o.Label == "gpt" {
		last -= 33
	}
	for i, p := range o.Partitions {
		if p.Start < 0 || p.Size < 0 {
			return fmt.Errorf("%w: partition %d: negative start or size", api.ErrInvalidArguments, i+1)
		}
		if p.Start == 0 || p.Size == 0 {
			continue // sfdisk places it; it says so if it cannot
		}
		if end := p.Start + p.Size - 1; end > last {
			return fmt.Errorf("%w: partition %d ends at sector %d, past the image's last usable sector %d (the image is %d bytes: make it larger with org.osbuild.truncate)",
				api.ErrInvalidArguments, i+1, end, last, size)
		}
	}
	return nil
}
