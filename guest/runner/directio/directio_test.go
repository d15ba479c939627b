package directio

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestRoundTrip writes and reads back sizes around the chunk size, in
// small and large writes, on the test's temporary filesystem (O_DIRECT or
// not, the bytes must be the same).
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size, write int
	}{
		{"empty", 0, 512},
		{"tail only", 1000, 7},
		{"one chunk", ChunkSize, 512},
		{"chunk and tail in big writes", 2*ChunkSize + 4097, 3 << 20},
		{"chunk and tail in small writes", ChunkSize + 1, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			rng := rand.NewChaCha8([32]byte{1})
			rng.Read(data)
			path := filepath.Join(t.TempDir(), "f")
			writeFile(t, path, data, tc.write)
			got := readFile(t, path)
			if !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want %d equal ones", len(got), len(data))
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte, step int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for off := 0; off < len(data); off += step {
		if n, err := w.Write(data[off:min(off+step, len(data))]); err != nil || n != min(step, len(data)-off) {
			t.Fatalf("write at %d: %d, %v", off, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("read after EOF: %d, %v", n, err)
	}
	return got
}

// TestWriteError reports a failing write and keeps reporting it.
func TestWriteError(t *testing.T) {
	f, err := os.Open(filepath.Join(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(make([]byte, ChunkSize)); err == nil {
		t.Fatal("writing a chunk to a directory succeeded")
	}
	if err := w.Flush(); err == nil {
		t.Fatal("flush after a failed write succeeded")
	}
}

// TestTmpfs runs the round trip on tmpfs, which refuses O_DIRECT before
// Linux 6.6, so the fallback through the page cache is taken there.
func TestTmpfs(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "directio-test")
	if err != nil {
		t.Skipf("no tmpfs at /dev/shm: %v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "f")
	data := bytes.Repeat([]byte("0123456789abcdef"), ChunkSize/8+3)
	writeFile(t, path, data, 1<<20)
	if got := readFile(t, path); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d equal ones", len(got), len(data))
	}
}
