package debian_test

import (
	"context"
	"fmt"
	"os"

	"github.com/osbuild-vm/osbuild-vm/images/debian"
)

// VMKernel gives QEMU its -kernel and the initramfs its modules; the
// second call for the same mirror, suite and arch needs no network.
func ExampleVMKernel() {
	k, err := debian.VMKernel(context.Background(), debian.KernelOptions{
		StoreDir: "/var/lib/osbuild-vm/store", Arch: "arm64", Log: os.Stderr,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("qemu -kernel", k.Image)
	for _, m := range k.Modules {
		fmt.Println("load", m.Name, m.Path)
	}
}
