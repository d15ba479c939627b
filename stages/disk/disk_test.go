package disk

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

func TestSfdiskScript(t *testing.T) {
	o := sfdiskOptions{Label: "gpt", UUID: "D209C89E-EA5E-4FBD-B161-B461CCE297E0", Partitions: []sfdiskPartition{
		{Size: 2048, Type: "21686148-6449-6E6F-744E-656564454649", Bootable: true, UUID: "FAC7F1FB-3E8D-4137-A512-961DE09A5549"},
		{Start: 4096, Size: 204800, Type: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", Name: "EFI System", Attrs: []int{0, 2, 48, 7}},
		{PartNum: 4, Start: 208896, Type: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", UUID: "6264D520-3FB9-423F-8AB8-7A0A8E3D3562"},
	}}
	// What upstream's stage writes for the same options.
	want := `label: gpt
label-id: D209C89E-EA5E-4FBD-B161-B461CCE297E0
size="2048", type="21686148-6449-6E6F-744E-656564454649", uuid="FAC7F1FB-3E8D-4137-A512-961DE09A5549", bootable
start="4096", size="204800", type="C12A7328-F81F-11D2-BA4B-00A0C93EC93B", name="EFI System", attrs="RequiredPartition,LegacyBIOSBootable,48"
/dev/loop0p4: start="208896", type="0FC63DAF-8483-4772-8E79-3D69D8477DE4", uuid="6264D520-3FB9-423F-8AB8-7A0A8E3D3562"`
	if d := cmp.Diff(want, o.script("/dev/loop0")); d != "" {
		t.Errorf("script (-want +got):\n%s", d)
	}
}

func TestPartitionsMustFit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		label       string
		start, size int64
		ok          bool
	}{
		{"gpt", 2048, 64*mib/512 - 2048 - 33, true},
		{"gpt", 2048, 64*mib/512 - 2048 - 32, false}, // into the backup GPT
		{"dos", 2048, 64*mib/512 - 2048, true},
		{"dos", 2048, 64*mib/512 - 2047, false},
		{"gpt", 0, 999999999, true}, // no start: sfdisk places it and says if it cannot
	}
	for _, tt := range tests {
		o := sfdiskOptions{Label: tt.label, Partitions: []sfdiskPartition{{Start: tt.start, Size: tt.size}}}
		err := o.fits(64 * mib)
		if (err == nil) != tt.ok {
			t.Errorf("%s %d+%d: err = %v, want ok=%v", tt.label, tt.start, tt.size, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, api.ErrInvalidArguments) || !strings.Contains(err.Error(), "org.osbuild.truncate")) {
			t.Errorf("error %v does not say how to fix it", err)
		}
	}
}

func TestSgdiskArgs(t *testing.T) {
	no := false
	o := sgdiskOptions{UUID: "D209C89E-EA5E-4FBD-B161-B461CCE297E0", Partitions: []sfdiskPartition{
		{Start: 2048, Size: 2048, Type: "EF02", Name: "BIOS boot", Bootable: true, Attrs: []int{60, 0}},
		{PartNum: 3, Start: 4096, Type: "8300", UUID: "6264D520-3FB9-423F-8AB8-7A0A8E3D3562"},
	}}
	want := []string{"-Z", "/dev/loop1", "-g", "-U", "D209C89E-EA5E-4FBD-B161-B461CCE297E0",
		"-n", "1:2048:+2048", "-c", `1:"BIOS boot"`, "-t", "1:EF02", "-A", "1:set:0", "-A", "1:set:2", "-A", "1:set:60",
		"-n", "3:4096:0", "-u", "3:6264D520-3FB9-423F-8AB8-7A0A8E3D3562", "-t", "3:8300"}
	if d := cmp.Diff(want, o.args("/dev/loop1")); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	o.QuotePartitionName = &no
	if !slices.Contains(o.args("/dev/loop1"), "1:BIOS boot") {
		t.Error("quote_partition_name false still quotes")
	}
}

func TestMkfsExt4Args(t *testing.T) {
	yes, no := true, false
	o := ext4Options{UUID: "6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b", Label: "root", LazyInit: &no, OrphanFile: &no, Verity: &yes}
	want := []string{"-U", o.UUID, "-L", "root",
		"-E", "hash_seed=6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b,lazy_itable_init=0,lazy_journal_init=0",
		"-O", "verity", "-O", "^orphan_file"}
	if d := cmp.Diff(want, o.args()); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	if n := strings.Count(strings.Join(o.args(), " "), "-E "); n != 1 {
		t.Errorf("%d -E options: mke2fs honours only the last", n)
	}
}

func TestTreeFits(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "big"), make([]byte, 3<<20), 0o644)
	small := filepath.Join(t.TempDir(), "dev")
	os.WriteFile(small, nil, 0o644)
	os.Truncate(small, 2<<20)
	if err := treeFits(root, small); !errors.Is(err, api.ErrInvalidArguments) || !strings.Contains(err.Error(), "more room") {
		t.Errorf("3 MiB tree on 2 MiB: %v", err)
	}
	os.Truncate(small, 8<<20)
	if err := treeFits(root, small); err != nil {
		t.Errorf("3 MiB tree on 8 MiB: %v", err)
	}
}

func TestFatEntriesOrder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg", "EFI.txt", "EFI/a", "B", "a/b"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(p), 0o644)
	}
	got, err := fatEntries(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.rel)
	}
	// byte order per component, parents before children ("EFI" < "EFI.txt")
	want := []string{"B", "EFI", "EFI/BOOT", "EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg", "EFI/a", "EFI.txt", "a", "a/b"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
	os.Symlink("B", filepath.Join(root, "link"))
	if _, err := fatEntries(root); err == nil || !strings.Contains(err.Error(), "link") {
		t.Errorf("a symlink was not refused: %v", err)
	}
}

// TestPatchCore checks the bytes grub2.inst writes, at the offsets
// upstream's stage writes them: the core at its sector, boot.img's code
// in the MBR (the partition table after it untouched), the core's sector
// at 0x5c, and, for a core past the MBR gap, its second sector at 500
// bytes into the core.
func TestPatchCore(t *testing.T) {
	dir := t.TempDir()
	boot := make([]byte, 512)
	for i := range boot {
		boot[i] = 0xbb
	}
	os.MkdirAll(filepath.Join(dir, "i386-pc"), 0o755)
	os.WriteFile(filepath.Join(dir, "i386-pc", "boot.img"), boot, 0o644)
	old := bootImagePath
	bootImagePath = filepath.Join(dir, "%s", "boot.img")
	defer func() { bootImagePath = old }()
	image := filepath.Join(dir, "disk.raw")
	disk := make([]byte, 4096*512)
	disk[446], disk[510], disk[511] = 0xee, 0x55, 0xaa // a partition table
	os.WriteFile(image, disk, 0o644)
	core := filepath.Join(dir, "core.img")
	coreData := make([]byte, 1024)
	for i := range coreData {
		coreData[i] = 0xcc
	}
	os.WriteFile(core, coreData, 0o644)
	if err := patchCore(image, core, "i386-pc", 2048, 512); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(image)
	if got[0] != 0xbb || got[439] != 0xbb || got[440] != 0 || got[446] != 0xee || got[510] != 0x55 {
		t.Error("boot.img's code is not exactly the MBR's first 440 bytes")
	}
	if n := binary.LittleEndian.Uint64(got[0x5c:]); n != 2048 {
		t.Errorf("core sector in the MBR = %d, want 2048", n)
	}
	if n := binary.LittleEndian.Uint64(got[2048*512+500:]); n != 2049 {
		t.Errorf("core's second sector = %d, want 2049", n)
	}
	if got[2048*512] != 0xcc || got[2048*512+1023] != 0xcc || got[2048*512+1024] != 0 {
		t.Error("core image not at sector 2048")
	}
}

func TestGrubPrefix(t *testing.T) {
	two := 2
	tests := []struct {
		p    grubPrefix
		want string
	}{
		{grubPrefix{Type: "partition", PartLabel: "gpt", Number: &two, Path: "/boot/grub2"}, "(,gpt3)/boot/grub2"},
		{grubPrefix{Type: "partition", PartLabel: "dos", Number: &two, Path: "/grub"}, "(,msdos3)/grub"},
		{grubPrefix{Path: "/boot/grub"}, "/boot/grub"},
	}
	for _, tt := range tests {
		got, err := tt.p.grub()
		if err != nil || got != tt.want {
			t.Errorf("%+v: %q, %v; want %q", tt.p, got, err, tt.want)
		}
	}
}

func TestGrubCfg(t *testing.T) {
	timeout := 5
	var o grubCfgOptions
	o.RootFS.UUID = "6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
	o.Config.Cmdline = "console=ttyS0,115200"
	o.Config.Timeout = &timeout
	o.Config.Serial = "serial --unit=0 --speed=115200"
	o.Config.TerminalOutput = []string{"serial", "console"}
	got, err := o.render()
	if err != nil {
		t.Fatal(err)
	}
	want := `# GRUB configuration written by org.osbuild.grub2.cfg
set default=0
set timeout=5
if serial --unit=0 --speed=115200; then
	terminal_output serial console
fi

menuentry 'Debian GNU/Linux' {
	search --no-floppy --fs-uuid --set=root 6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b
	echo 'Loading Linux ...'
	linux /vmlinuz root=UUID=6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b ro console=ttyS0,115200
	echo 'Loading initial ramdisk ...'
	initrd /initrd.img
}
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("grub.cfg (-want +got):\n%s", d)
	}
	o.Config.Distributor = "Evil' ; reboot ; echo '"
	if _, err := o.render(); !errors.Is(err, api.ErrInvalidArguments) {
		t.Errorf("a quote in the title was accepted: %v", err)
	}
}

func TestQemuFormatArgs(t *testing.T) {
	no := false
	tests := []struct {
		f    qemuFormat
		want []string
	}{
		{qemuFormat{Type: "qcow2"}, []string{"-c", "-o", "compat=1.1,cluster_size=65536"}},
		{qemuFormat{Type: "qcow2", Compression: &no, Compat: "0.10"}, []string{"-o", "compat=0.10,cluster_size=65536"}},
		{qemuFormat{Type: "vmdk", AdapterType: "lsilogic", Subformat: "streamOptimized"}, []string{"-c", "-o", "adapter_type=lsilogic,subformat=streamOptimized"}},
		{qemuFormat{Type: "vpc"}, []string{"-o", "subformat=fixed,force_size"}},
		{qemuFormat{Type: "vhdx"}, nil},
	}
	for _, tt := range tests {
		got, err := tt.f.args()
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%+v (-want +got):\n%s", tt.f, d)
		}
	}
}

func TestEmbeddedConfig(t *testing.T) {
	p, err := embeddedConfig("6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	data, _ := os.ReadFile(p)
	want := "search --no-floppy --fs-uuid --set=root 6a1f4c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n"
	if string(data) != want {
		t.Errorf("embedded config:\n%s\nwant:\n%s", data, want)
	}
	for _, bad := range [][2]string{{"x\nreboot", ""}, {"abc", "/boot grub"}, {"abc", "boot"}} {
		if _, err := embeddedConfig(bad[0], bad[1]); err == nil {
			t.Errorf("embeddedConfig(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
