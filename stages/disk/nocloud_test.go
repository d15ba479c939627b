package disk

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"

	"github.com/osbuild-vm/osbuild-vm/stages/internal/stagetest"
)

// TestNocloudSeed: the seed is a "cidata" volume with the two files, and
// two seeds written a second apart are the same bytes, dated with the
// source epoch.
func TestNocloudSeed(t *testing.T) {
	var images [2][]byte
	for i := range images {
		args := stagetest.Args(t, `{"filename": "seed.iso", "user-data": "#cloud-config\npassword: x\n", "meta-data": "instance-id: debian\n"}`)
		stagetest.Epoch(args, 1700000000)
		if err := NocloudSeed(nil, args); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(args.Tree, "seed.iso"))
		if err != nil {
			t.Fatal(err)
		}
		images[i] = data
		if i == 0 {
			time.Sleep(1100 * time.Millisecond)
		}
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Fatal("two seeds differ")
	}
	img, err := iso9660.OpenImage(bytes.NewReader(images[0]))
	if err != nil {
		t.Fatal(err)
	}
	label, _ := img.Label()
	if label != "cidata" {
		t.Errorf("label %q", label)
	}
	root, _ := img.RootDir()
	kids, _ := root.GetChildren()
	got := map[string]string{}
	for _, k := range kids {
		b, _ := io.ReadAll(k.Reader())
		got[k.Name()] = string(b)
	}
	if got["user-data"] != "#cloud-config\npassword: x\n" || got["meta-data"] != "instance-id: debian\n" {
		t.Errorf("files: %q", got)
	}
	if !bytes.Contains(images[0][pvdOffset+pvdCreated:pvdOffset+pvdCreated+17], []byte("2023111422132000")) {
		t.Errorf("creation date %q, want the source epoch", images[0][pvdOffset+pvdCreated:pvdOffset+pvdCreated+17])
	}
}
