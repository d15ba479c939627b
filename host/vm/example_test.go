package vm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// Boot a VM with one read-only and one writable share, call the agent, and
// power it off. Close is deferred so that nothing outlives a failure.
func ExampleStart() {
	ctx := context.Background()
	v, err := vm.Start(ctx, vm.Config{
		Arch:   "arm64",
		Kernel: "/store/vm-kernels/ab12/vmlinuz", // from host/kernels.Prepare
		Initrd: "/store/vm-initramfs/cd34.cpio",
		Shares: []vm.Share{
			{Tag: "sources", Dir: "/store/sources", ReadOnly: true},
			{Tag: "scratch", Dir: "/store/tmp/run-1"},
		},
		BootTimeout: time.Minute,
	})
	if err != nil {
		fmt.Println(err) // says why, with the console's last lines
		return
	}
	defer v.Close()
	var info jsoncomm.Info
	if err := v.Client().Call(ctx, jsoncomm.MethodInfo, jsoncomm.Empty{}, &info, nil); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Kernel, v.Timings().AgentReady)
	if err := v.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
}
