package initramfs_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/osbuild-vm/osbuild-vm/initramfs"
)

// An initramfs for a guest binary and two modules, listed back.
func ExampleWrite() {
	var b bytes.Buffer
	err := initramfs.Write(&b, initramfs.Spec{
		Init: []byte("\x7fELF the guest binary"),
		Modules: []initramfs.Module{
			{Name: "fuse", Path: "testdata/fuse.ko"},
			{Name: "virtio", Path: "testdata/virtio.ko"},
		},
		Epoch: 1700000000,
	})
	if err != nil {
		log.Fatal(err)
	}
	entries, err := initramfs.List(b.Bytes(), true)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Printf("%s %o\n", e.Name, e.Mode)
	}
	order := entries[5]
	fmt.Printf("%s:\n%s", order.Name, order.Data)
	// Output:
	// dev 40755
	// init 100755
	// lib 40755
	// lib/modules 40755
	// lib/modules/fuse.ko 100644
	// lib/modules/order 100644
	// lib/modules/virtio.ko 100644
	// proc 40755
	// run 40755
	// sys 40755
	// tmp 40755
	// lib/modules/order:
	// fuse
	// virtio
}
