package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// disk makes a 1 MiB raw disk with a GPT naming one partition "root" at
// sectors 34-2047.
func disk(t *testing.T) []byte {
	d := make([]byte, 1<<20)
	copy(d[512:], "EFI PART")
	binary.LittleEndian.PutUint64(d[512+72:], 2)
	binary.LittleEndian.PutUint32(d[512+80:], 128)
	binary.LittleEndian.PutUint32(d[512+84:], 128)
	e := d[1024:]
	binary.LittleEndian.PutUint64(e[32:], 34)
	binary.LittleEndian.PutUint64(e[40:], 2047)
	for i, c := range utf16.Encode([]rune("root")) {
		binary.LittleEndian.PutUint16(e[56+2*i:], c)
	}
	return d
}

func TestRanges(t *testing.T) {
	dir := t.TempDir()
	a, b := disk(t), disk(t)
	b[34*512+100], b[34*512+101] = 1, 1
	b[2048*512-1] = 7
	pa, pb := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	os.WriteFile(pa, a, 0o644)
	os.WriteFile(pb, b, 0o644)
	var out bytes.Buffer
	same, err := run(pa, pb, &out)
	if err != nil || same {
		t.Fatalf("same=%v err=%v", same, err)
	}
	for _, want := range []string{`bytes 17508-17509 (2 bytes, sector 34) in partition 1 "root" at byte 100 of it`, "2 differing ranges, 3 bytes in all"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if same, err := run(pa, pa, &out); !same || err != nil {
		t.Errorf("a file against itself: same=%v err=%v", same, err)
	}
}
