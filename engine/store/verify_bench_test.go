package store

import (
	"io"
	"slices"
	"testing"
	"time"
)

// BenchmarkVerify measures what checking a tree's digest before its use
// costs: a 300 MB tree.tar, read back from the page cache (as right after
// a build) and hashed, as Tree does in every run that uses an object.
// Run: go test -run '^$' -bench Verify -benchtime 5x ./engine/store/
func BenchmarkVerify(b *testing.B) {
	const size = 300 << 20
	dir := b.TempDir()
	s, err := Open(dir, Options{MaxSize: ptr(Unlimited)})
	if err != nil {
		b.Fatal(err)
	}
	p, err := s.NewObject(testID(1))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	err = p.WriteTree(func(w io.Writer) error {
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i * 7)
		}
		for range size / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	writeSecs := time.Since(start).Seconds()
	if _, err := p.Commit(nil); err != nil {
		b.Fatal(err)
	}
	s.Close()
	var secs []float64
	for b.Loop() {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := s.Tree(testID(1)); err != nil {
			b.Fatal(err)
		}
		secs = append(secs, time.Since(start).Seconds())
		s.Close()
	}
	slices.Sort(secs)
	median := secs[len(secs)/2]
	b.ReportMetric(size/1e6/writeSecs, "write-hash-MB/s")
	b.ReportMetric(median, "verify-s/300MB")
	b.ReportMetric(size/1e6/median, "verify-MB/s")
}
