package test

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/vm"
	"github.com/osbuild-vm/osbuild-vm/host/vm/vmtest"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// BenchmarkHelloBuild measures, side by side in one run, the example's
// first build (fresh store, kernel cached) and its fully cached rebuild
// (no VM boot), as medians.
// Run: go test -run '^$' -bench HelloBuild -benchtime 3x ./test/
func BenchmarkHelloBuild(b *testing.B) {
	kernel := vmtest.Boot(b, "amd64").Kernel.Dir
	var first, cached []time.Duration
	for b.Loop() {
		store := b.TempDir()
		for i := 0; i < 2; i++ {
			start := time.Now()
			var out, errb syncBuffer
			err := runCLI(context.Background(), &out, &errb, "run", "--arch", "amd64", "--vm-kernel", kernel,
				"--store", store, "--cache-max-size", "unlimited", "--checkpoint", "archive",
				"--output-directory", b.TempDir(), "--export", "archive", hello)
			if err != nil {
				b.Fatalf("%v\n%s", err, errb.String())
			}
			if i == 0 {
				first = append(first, time.Since(start))
			} else {
				cached = append(cached, time.Since(start))
			}
		}
	}
	b.ReportMetric(medianDur(first).Seconds(), "first-s")
	b.ReportMetric(medianDur(cached).Seconds(), "cached-s")
	b.ReportMetric(float64(medianDur(first))/float64(medianDur(cached)), "first/cached")
}

// BenchmarkTreeTransfer moves a tree archive of real files (the host's
// /usr/lib/x86_64-linux-gnu, capped) into the guest's working tree and
// back, and reports MB/s each way (medians). Each round opens a fresh copy
// of the archive, as a build does: the guest's page cache never has it.
// Run: go test -run '^$' -bench TreeTransfer -benchtime 3x ./test/
func BenchmarkTreeTransfer(b *testing.B) {
	boot := vmtest.Boot(b, "amd64")
	share := b.TempDir()
	size := makeTreeArchive(b, filepath.Join(share, "in.tar"), "/usr/lib/x86_64-linux-gnu", 256<<20)
	ctx := context.Background()
	v, err := vm.Start(ctx, vm.Config{Arch: "amd64", Kernel: boot.Kernel.Image, Initrd: boot.Initrd, MemoryMiB: 2048,
		Shares: []vm.Share{{Tag: "data", Dir: share}}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	c := v.Client()
	guest := jsoncomm.SharesDir + "/data/"
	var in, out []float64
	for round := 0; b.Loop(); round++ {
		name := fmt.Sprintf("in-%d.tar", round)
		copyFile(b, filepath.Join(share, "in.tar"), filepath.Join(share, name))
		start := time.Now()
		if err := c.Call(ctx, jsoncomm.MethodTreeOpen, jsoncomm.TreeOpenParams{Tree: "t", From: guest + name}, nil, nil); err != nil {
			b.Fatal(err)
		}
		in = append(in, float64(size)/1e6/time.Since(start).Seconds())
		start = time.Now()
		var info jsoncomm.TreeInfo
		if err := c.Call(ctx, jsoncomm.MethodTreeSave, jsoncomm.TreeSaveParams{Tree: "t", To: guest + "out.tar"}, &info, nil); err != nil {
			b.Fatal(err)
		}
		out = append(out, float64(size)/1e6/time.Since(start).Seconds())
		if err := c.Call(ctx, jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: "t"}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(medianF(in), "in-MB/s")
	b.ReportMetric(medianF(out), "out-MB/s")
	v.Shutdown(ctx)
}

func copyFile(b *testing.B, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
}

// makeTreeArchive writes regular files and symlinks from dir into a tar at
// path until about limit bytes, and returns the archive's size.
func makeTreeArchive(b *testing.B, path, dir string, limit int64) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || total > limit {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		h.Name = "./" + rel
		if info.IsDir() {
			h.Name += "/"
		}
		tw.WriteHeader(h)
		if info.Mode().IsRegular() {
			src, err := os.Open(p)
			if err == nil {
				n, _ := io.Copy(tw, src)
				src.Close()
				total += n
			}
		}
		return nil
	})
	tw.Close()
	st, _ := f.Stat()
	return st.Size()
}

func medianDur(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

func medianF(d []float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}
