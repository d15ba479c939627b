package cli

import (
	"context"
	"io"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// buildManifest is a placeholder until cli/build.go exists.
func buildManifest(ctx context.Context, opts *runOptions, m *manifest.Manifest, stdout, stderr io.Writer) error {
	return exitf(ExitFailed, "execution is not available yet")
}
