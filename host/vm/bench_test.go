package vm_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// BenchmarkBoot boots and powers off a VM per iteration and reports the
// medians of: start to agent ready, the guest's own uptime when its agent
// became ready (the rest is QEMU, firmware and kernel decompression), start
// to QEMU exit, and one ping round trip (20 per boot). Run: go test -run '^$' -bench Boot -benchtime 5x ./host/vm/
func BenchmarkBoot(b *testing.B) {
	for _, arch := range []string{"amd64", "arm64"} {
		b.Run(arch, func(b *testing.B) {
			boot := vmtest.Boot(b, arch)
			var ready, guest, exit, rtt []time.Duration
			ctx := context.Background()
			for b.Loop() {
				v, err := vm.Start(ctx, vm.Config{Arch: arch, Kernel: boot.Kernel.Image, Initrd: boot.Initrd,
					Shares: []vm.Share{{Tag: "scratch", Dir: b.TempDir()}}})
				if err != nil {
					b.Fatal(err)
				}
				var info jsoncomm.Info
				if err := v.Client().Call(ctx, jsoncomm.MethodInfo, jsoncomm.Empty{}, &info, nil); err != nil {
					b.Fatal(err)
				}
				guest = append(guest, time.Duration(info.BootMillis)*time.Millisecond)
				for range 20 {
					t := time.Now()
					if err := v.Client().Call(ctx, jsoncomm.MethodPing, jsoncomm.Empty{}, nil, nil); err != nil {
						b.Fatal(err)
					}
					rtt = append(rtt, time.Since(t))
				}
				if err := v.Shutdown(ctx); err != nil {
					b.Fatal(err)
				}
				tm := v.Timings()
				ready, exit = append(ready, tm.AgentReady), append(exit, tm.Exited)
			}
			b.ReportMetric(median(ready).Seconds(), "ready-s")
			b.ReportMetric(median(guest).Seconds(), "guest-ready-s")
			b.ReportMetric(median(exit).Seconds(), "exit-s")
			b.ReportMetric(float64(median(rtt))/float64(time.Millisecond), "rtt-ms")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
