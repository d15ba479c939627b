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
	"strings"
	"testing"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"github.com/osbuild-vm/osbuild-vm/host/runner"
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
// /usr/lib/x86_64-linux-gnu, capped near 300 MB) into the guest's working
// tree and back, and reports MB/s each way (medians). Each round opens a
// fresh copy of the archive, as a build does: the guest's page cache never
// has it. The way back is measured twice: the guest's save alone (out),
// and a commit as a build makes it (out-commit: the save, then the host's
// copy out of the share into a new store object, hashed on the way). What
// the host adds is also timed alone: the copy and hash of the saved
// archive into a store object (host-copy-s, from the page cache), and the
// check of an object's digest before a later use (verify-s).
// Run: go test -run '^$' -bench TreeTransfer -benchtime 3x ./test/
func BenchmarkTreeTransfer(b *testing.B) {
	boot := vmtest.Boot(b, "amd64")
	share := b.TempDir()
	size := makeTreeArchive(b, filepath.Join(share, "in.tar"), "/usr/lib/x86_64-linux-gnu", 300<<20)
	ctx := context.Background()
	v, err := vm.Start(ctx, vm.Config{Arch: "amd64", Kernel: boot.Kernel.Image, Initrd: boot.Initrd, MemoryMiB: 2048,
		Shares: []vm.Share{{Tag: "data", Dir: share}}})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	c := v.Client()
	guest := jsoncomm.SharesDir + "/data/"
	r := runner.New(c, []runner.Share{{HostDir: share, GuestDir: strings.TrimSuffix(guest, "/")}}, share, nil)
	storeDir := b.TempDir()
	var in, out, commit, hostCopy, verify []float64
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
		hostCopy = append(hostCopy, timedCommit(b, storeDir, fmt.Sprintf("%064x", 2*round+1), fromFile(b, filepath.Join(share, "out.tar"))).Seconds())
		id := fmt.Sprintf("%064x", 2*round+2)
		save := func(w io.Writer) error { return r.SaveTree(ctx, "t", w) }
		commit = append(commit, float64(size)/1e6/timedCommit(b, storeDir, id, save).Seconds())
		verify = append(verify, timedVerify(b, storeDir, id).Seconds())
		if err := c.Call(ctx, jsoncomm.MethodTreeClose, jsoncomm.TreeRef{Tree: "t"}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(medianF(in), "in-MB/s")
	b.ReportMetric(medianF(out), "out-MB/s")
	b.ReportMetric(medianF(commit), "out-commit-MB/s")
	b.ReportMetric(medianF(hostCopy), "host-copy-s")
	b.ReportMetric(medianF(verify), "verify-s")
	v.Shutdown(ctx)
}

// fromFile writes the file at path, as a save from it would.
func fromFile(b *testing.B, path string) func(io.Writer) error {
	return func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
}

// timedCommit commits store object id from what save writes, as a build's
// checkpoint does, and returns how long it took.
func timedCommit(b *testing.B, dir, id string, save func(io.Writer) error) time.Duration {
	s, err := store.Open(dir, store.Options{MaxSize: ptr(store.Unlimited)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	p, err := s.NewObject(id)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.WriteTree(save); err != nil {
		b.Fatal(err)
	}
	if _, err := p.Commit(nil); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// timedVerify opens the store as a later run does and times the digest
// check of object id.
func timedVerify(b *testing.B, dir, id string) time.Duration {
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if _, err := s.Tree(id); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func ptr(n int64) *int64 { return &n }

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
