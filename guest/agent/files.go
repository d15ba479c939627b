package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// fileService serves file.read and file.write, confined to the mounted
// shares. Paths come from the host but name guest files; the checks keep a
// confused host (or a symlink a stage planted in a share) from reaching the
// rest of the guest: the path must be absolute and clean and lie inside a
// share, and it is resolved with os.Root, so no ".." or symlink leads out.
type fileService struct {
	shares []jsoncomm.Share
	// wmu serialises writes: each goes through one temporary name per
	// target.
	wmu sync.Mutex
}

// locate returns the share p lies in and p relative to it.
func (s *fileService) locate(p string) (jsoncomm.Share, string, error) {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsRune(p, 0) {
		return jsoncomm.Share{}, "", fmt.Errorf("path %q: must be absolute and clean: %w", p, jsoncomm.ErrInvalid)
	}
	for _, sh := range s.shares {
		if rel, ok := strings.CutPrefix(p, sh.Path+"/"); ok {
			return sh, rel, nil
		}
		if p == sh.Path {
			return jsoncomm.Share{}, "", fmt.Errorf("path %q: a share's root is not a file: %w", p, jsoncomm.ErrInvalid)
		}
	}
	return jsoncomm.Share{}, "", fmt.Errorf("path %q: not inside a mounted share: %w", p, jsoncomm.ErrPermission)
}

// read returns the content of the regular file at p.
func (s *fileService) read(p string) ([]byte, error) {
	sh, rel, err := s.locate(p)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(sh.Path)
	if err != nil {
		return nil, classify("read", p, err)
	}
	defer root.Close()
	// O_NONBLOCK: opening a FIFO must not hang the call.
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, classify("read", p, err)
	}
	defer f.Close()
	return readRegular(f, p)
}

func readRegular(f *os.File, p string) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, classify("read", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file (%s): %w", p, fi.Mode().Type(), jsoncomm.ErrInvalid)
	}
	if fi.Size() > jsoncomm.MaxFileSize {
		return nil, fmt.Errorf("read %s: %d bytes, more than %d: %w", p, fi.Size(), jsoncomm.MaxFileSize, jsoncomm.ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(f, jsoncomm.MaxFileSize+1))
	if err != nil {
		return nil, classify("read", p, err)
	}
	if len(data) > jsoncomm.MaxFileSize {
		return nil, fmt.Errorf("read %s: grew past %d bytes: %w", p, jsoncomm.MaxFileSize, jsoncomm.ErrTooLarge)
	}
	return data, nil
}

// write replaces the file at p with data: it writes a temporary file next
// to it, fsyncs it and renames it into place, so a reader never sees half
// a file.
func (s *fileService) write(p string, data []byte, mode uint32) error {
	sh, rel, err := s.locate(p)
	if err != nil {
		return err
	}
	if sh.ReadOnly {
		return fmt.Errorf("write %s: share %s is read-only: %w", p, sh.Tag, jsoncomm.ErrPermission)
	}
	if len(data) > jsoncomm.MaxFileSize {
		return fmt.Errorf("write %s: %d bytes, more than %d: %w", p, len(data), jsoncomm.MaxFileSize, jsoncomm.ErrTooLarge)
	}
	perm := fs.FileMode(mode) & fs.ModePerm
	if perm == 0 {
		perm = 0o644
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	root, err := os.OpenRoot(sh.Path)
	if err != nil {
		return classify("write", p, err)
	}
	defer root.Close()
	if err := replace(root, rel, data, perm); err != nil {
		return classify("write", p, err)
	}
	return nil
}

func replace(root *os.Root, rel string, data []byte, perm fs.FileMode) error {
	tmp := filepath.Join(filepath.Dir(rel), ".osbuild-vm-write."+filepath.Base(rel))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(perm), f.Sync(), f.Close())
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

// classify gives a file error its jsoncomm class. os.Root refuses a path
// that escapes the share with an error that is not an errno; that, like
// EACCES and ELOOP, is a permission problem.
func classify(op, p string, err error) error {
	var pe *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w: %w", op, p, err, jsoncomm.ErrNotFound)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%s %s: %w: %w", op, p, err, jsoncomm.ErrPermission)
	case errors.As(err, &pe) && !errors.As(pe.Err, &errno):
		return fmt.Errorf("%s %s: %w: %w", op, p, err, jsoncomm.ErrPermission)
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s %s: %w: %w", op, p, err, jsoncomm.ErrInvalid)
	}
	return fmt.Errorf("%s %s: %w", op, p, err)
}
