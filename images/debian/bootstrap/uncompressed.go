package bootstrap

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	debfile "github.com/osbuild-vm/osbuild-vm/formats/deb"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
)

// Uncompressed makes sure dir holds, for each .deb of debs, the same
// package with its members uncompressed (deb.WriteUncompressed), under the
// same base name, and returns their paths in order. Under TCG a
// decompressor runs several times slower than natively, so the host does
// it once, on all its CPUs, and keeps the result (dir is a cache beside
// the sources). Each file's sha256 is recorded when it is made and checked
// before it is handed out again; one that does not match is made again.
func Uncompressed(ctx context.Context, debs []string, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := make([]string, len(debs))
	errs := make([]error, len(debs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i], errs[i] = uncompressedOne(ctx, debs[i], dir)
			}
		}()
	}
	for i := range debs {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("uncompress %s: %w", filepath.Base(debs[i]), err)
		}
	}
	return out, nil
}

func uncompressedOne(ctx context.Context, src, dir string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if ok, err := intact(dst); err != nil || ok {
		return dst, err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<20)
	err = debfile.WriteUncompressed(bufio.NewReaderSize(in, 1<<20), bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		tmp.Close()
		return "", err
	}
	if err := durable.Commit(tmp, dst); err != nil {
		return "", err
	}
	if err := writeDigest(dst, hex.EncodeToString(h.Sum(nil))); err != nil {
		return "", err
	}
	return dst, nil
}

// intact says whether path exists with the digest recorded beside it.
func intact(path string) (bool, error) {
	want, err := os.ReadFile(path + ".sha256")
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == strings.TrimSpace(string(want)), nil
}

func writeDigest(path, sum string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(sum + "\n"); err != nil {
		tmp.Close()
		return err
	}
	return durable.Commit(tmp, path+".sha256")
}
