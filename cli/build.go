package cli

import (
	"context"
	"io"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// buildManifest runs a validated manifest: sources, the build VM, exports.
func buildManifest(ctx context.Context, opts *runOptions, m *manifest.Manifest, stdout, stderr io.Writer) error {
	cfg, err := execConfigFrom(opts, stdout, stderr)
	if err != nil {
		return err
	}
	return execute(ctx, cfg, m, stdout, stderr)
}
