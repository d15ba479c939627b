package archive

import (
	"context"
	"fmt"
	"github.com/osbuild-vm/osbuild-vm/internal/durable"
	"os"
	"path/filepath"
)

// Download fetches pkg to dest, checking its size and SHA256 against the
// index entry. dest appears only complete and verified: the data goes to a
// temporary file in the same directory, is synced, then renamed.
func (a *Archive) Download(ctx context.Context, pkg Package, dest string) error {
	if !ValidSHA256(pkg.SHA256) || pkg.Size <= 0 || !safePoolPath(pkg.Filename) {
		return fmt.Errorf("download %s: incomplete package entry: %w", pkg.Package, ErrBadIndex)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".download-*")
	if err != nil {
		return fmt.Errorf("download %s: %w", pkg.Package, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := a.fetchVerified(ctx, a.PoolURL(pkg.Filename), FileSum{Size: pkg.Size, SHA256: pkg.SHA256}, tmp); err != nil {
		return fmt.Errorf("download %s: %w", pkg.Package, err)
	}
	if err := durable.Commit(tmp, dest); err != nil {
		return fmt.Errorf("download %s: %w", pkg.Package, err)
	}
	return nil
}
