package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/images/debian/bootstrap"
)

// prepare is the host's native part of stages that start a pipeline on an
// empty tree (build.Config.Prepare).
var prepare = map[string]build.PrepareFunc{
	"org.osbuild.deb.install": prepareDebInstall,
}

// prepareDebInstall unpacks a new system's essential set on the host: the
// install stage then finds it unpacked and goes on with dpkg in the VM.
func prepareDebInstall(ctx context.Context, inputs map[string]build.StageInput, archive string) (string, error) {
	in, ok := inputs["packages"]
	if !ok || in.Dir == "" {
		return "", fmt.Errorf("org.osbuild.deb.install: no packages input of source files")
	}
	debs := make([]string, len(in.Files))
	for i, f := range in.Files {
		debs[i] = filepath.Join(in.Dir, f)
	}
	return bootstrap.PrepareArchive(ctx, debs, archive)
}
