// Command reprodiff says where two builds of one image differ, for
// `make repro` on machines without diffoscope: qcow2 images are compared
// as the raw disks they hold (converted with qemu-img), differing byte
// ranges are merged and, on a GPT disk, named by the partition they fall
// in. It exits 0 when the files are the same bytes, 1 when they differ.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"unicode/utf16"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: reprodiff A B")
		os.Exit(2)
	}
	same, err := run(os.Args[1], os.Args[2], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reprodiff:", err)
		os.Exit(2)
	}
	if !same {
		os.Exit(1)
	}
}

func run(a, b string, w io.Writer) (bool, error) {
	if same, err := sameFiles(a, b); err != nil || same {
		return same, err
	}
	fmt.Fprintf(w, "%s and %s differ\n", a, b)
	tmp, err := os.MkdirTemp("", "reprodiff-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	ra, rb := a, b
	if isQcow2(a) && isQcow2(b) {
		ra, rb = filepath.Join(tmp, "a.raw"), filepath.Join(tmp, "b.raw")
		for _, p := range [][2]string{{a, ra}, {b, rb}} {
			if out, err := exec.Command("qemu-img", "convert", "-O", "raw", p[0], p[1]).CombinedOutput(); err != nil {
				return false, fmt.Errorf("qemu-img convert %s: %v: %s", p[0], err, out)
			}
		}
		if same, err := sameFiles(ra, rb); err != nil || same {
			fmt.Fprintln(w, "the disks they hold are the same bytes: only the qcow2 layout differs")
			return false, err
		}
	}
	return false, ranges(ra, rb, w)
}

func sameFiles(a, b string) (bool, error) {
	fa, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	fb, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(fa, fb), nil
}

func isQcow2(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var m [4]byte
	_, err = io.ReadFull(f, m[:])
	return err == nil && string(m[:]) == "QFI\xfb"
}

// ranges prints the first differing byte ranges of two disk images.
func ranges(a, b string, w io.Writer) error {
	da, err := os.ReadFile(a)
	if err != nil {
		return err
	}
	db, err := os.ReadFile(b)
	if err != nil {
		return err
	}
	if len(da) != len(db) {
		fmt.Fprintf(w, "sizes differ: %d and %d bytes\n", len(da), len(db))
	}
	parts := gpt(da)
	n, total := 0, 0
	for i := 0; i < len(da) && i < len(db); i++ {
		if da[i] == db[i] {
			continue
		}
		j := i
		for j < len(da) && j < len(db) && (da[j] != db[j] || j+16 < len(da) && !bytes.Equal(da[j:j+16], db[j:j+16])) {
			j++
		}
		total += j - i
		if n < 40 {
			fmt.Fprintf(w, "  bytes %d-%d (%d bytes, sector %d)%s\n", i, j-1, j-i, i/512, where(parts, int64(i)))
		}
		n++
		i = j
	}
	fmt.Fprintf(w, "%d differing ranges, %d bytes in all\n", n, total)
	return nil
}

type part struct {
	num         int
	first, last int64
	name        string
}

// gpt reads a GPT's partitions from a raw disk, if it has one.
func gpt(d []byte) []part {
	if len(d) < 1024 || string(d[512:520]) != "EFI PART" {
		return nil
	}
	entries := int64(binary.LittleEndian.Uint64(d[512+72:]))
	count := int(binary.LittleEndian.Uint32(d[512+80:]))
	size := int64(binary.LittleEndian.Uint32(d[512+84:]))
	var out []part
	for i := 0; i < count && i < 128; i++ {
		off := entries*512 + int64(i)*size
		if off+size > int64(len(d)) || size < 128 {
			break
		}
		e := d[off : off+size]
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		if first == 0 {
			continue
		}
		u := make([]uint16, 36)
		for k := range u {
			u[k] = binary.LittleEndian.Uint16(e[56+2*k:])
		}
		name := string(utf16.Decode(untilNUL(u)))
		out = append(out, part{i + 1, first, int64(binary.LittleEndian.Uint64(e[40:])), name})
	}
	return out
}

func untilNUL(u []uint16) []uint16 {
	for i, c := range u {
		if c == 0 {
			return u[:i]
		}
	}
	return u
}

func where(parts []part, off int64) string {
	s := off / 512
	for _, p := range parts {
		if s >= p.first && s <= p.last {
			return fmt.Sprintf(" in partition %d %q at byte %d of it", p.num, p.name, off-p.first*512)
		}
	}
	if len(parts) > 0 {
		return " in the partition table or between partitions"
	}
	return ""
}
