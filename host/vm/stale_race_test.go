package vm

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestSweepNeverTakesALiveDirectory starts VM directories (MkdirTemp and
// lockDir, as boot does) while another run sweeps the same parent without
// pause, as runs started at once do: a directory being set up is never
// taken for a dead one's.
func TestSweepNeverTakesALiveDirectory(t *testing.T) {
	parent := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				sweepStale(parent)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 1000; i++ {
		dir, err := os.MkdirTemp(parent, "osbuild-vm-")
		if err != nil {
			t.Fatal(err)
		}
		lock, err := lockDir(dir)
		if err != nil {
			t.Fatalf("directory %d: lock: %v", i, err)
		}
		if _, err := os.Stat(filepath.Join(dir, lockName)); err != nil {
			t.Fatalf("directory %d was swept while its VM was starting: %v", i, err)
		}
		lock.Close()
		os.RemoveAll(dir)
	}
}
