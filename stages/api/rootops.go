package api

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile writes data to the in-root path p, creating missing parent
// directories (0755) and following symlinks inside the root like a write
// through open(2) in a chroot would. The file gets perm when created.
func (r Root) WriteFile(p string, data []byte, perm fs.FileMode) error {
	host, err := r.Resolve(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// ReadFile reads the in-root path p, following symlinks inside the root.
func (r Root) ReadFile(p string) ([]byte, error) {
	host, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(host)
}

// MkdirAll creates the in-root directory p and its missing parents.
func (r Root) MkdirAll(p string, perm fs.FileMode) (string, error) {
	host, err := r.Resolve(p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(host, perm); err != nil {
		return "", fmt.Errorf("mkdir %s: %w", p, err)
	}
	return host, nil
}

// Remove removes the in-root entry p itself (a symlink, not its target).
// A missing entry is not an error: the callers want it gone.
func (r Root) Remove(p string) (bool, error) {
	host, err := r.ResolveParent(p)
	if err != nil {
		return false, err
	}
	err = os.Remove(host)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove %s: %w", p, err)
	}
	return true, nil
}

// Symlink makes the in-root entry p a symlink to target, replacing an
// existing non-directory entry.
func (r Root) Symlink(target, p string) error {
	host, err := r.ResolveParent(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	if err := os.Remove(host); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	if err := os.Symlink(target, host); err != nil {
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	return nil
}
