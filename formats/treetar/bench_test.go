package treetar

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkTransfer packs the tree named by TREETAR_BENCH_DIR (say
// /usr/lib) into an archive file, unpacks it into a tmpfs as tree.open
// does in the guest, and packs that again; it reports MB/s of each and
// checks that both packs are identical.
func BenchmarkTransfer(b *testing.B) {
	src := os.Getenv("TREETAR_BENCH_DIR")
	if src == "" {
		b.Skip("set TREETAR_BENCH_DIR to a directory to measure transfer rates on")
	}
	needRoot(b)
	work := b.TempDir()
	if err := unix.Mount("tmpfs", work, "tmpfs", 0, "mode=0755"); err != nil {
		b.Fatal(err)
	}
	defer unix.Unmount(work, unix.MNT_DETACH)
	archiveDir := b.TempDir()
	for i := 0; i < b.N; i++ {
		first, size := timedPack(b, src, filepath.Join(archiveDir, "first.tar"), "pack-src")
		dst := filepath.Join(work, "tree")
		os.RemoveAll(dst)
		os.Mkdir(dst, 0o755)
		f, _ := os.Open(first)
		begin := time.Now()
		if _, err := Unpack(context.Background(), f, dst, Options{Owners: true}); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.ReportMetric(float64(size)/1e6/time.Since(begin).Seconds(), "unpack-MB/s")
		second, _ := timedPack(b, dst, filepath.Join(work, "second.tar"), "pack-tmpfs")
		if !sameFile(first, second) {
			b.Error("second pack differs from the first")
		}
		b.ReportMetric(float64(size)/1e6, "archive-MB")
	}
}

func timedPack(b *testing.B, dir, to, metric string) (string, int64) {
	f, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	begin := time.Now()
	bw := bufio.NewWriterSize(f, bufSize)
	if _, err := Pack(context.Background(), dir, bw); err != nil {
		b.Fatal(err)
	}
	bw.Flush()
	f.Sync()
	fi, _ := f.Stat()
	b.ReportMetric(float64(fi.Size())/1e6/time.Since(begin).Seconds(), metric+"-MB/s")
	return to, fi.Size()
}

func sameFile(a, b string) bool {
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	return len(x) == len(y) && string(x) == string(y)
}
