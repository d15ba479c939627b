package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/osbuild-vm/osbuild-vm/engine/build"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"github.com/osbuild-vm/osbuild-vm/images/debian/bootstrap"
)

// uncompressedDebs is the cache of .debs with uncompressed members, in the
// store's sources (which the VM sees), by the source's checksum.
const uncompressedDebs = "org.osbuild-vm.deb-uncompressed"

// prepare is the host's native part of stages (build.Config.Prepare).
func prepare(st *store.Store) map[string]build.PrepareFunc {
	return map[string]build.PrepareFunc{
		"org.osbuild.deb.install": func(ctx context.Context, inputs map[string]build.StageInput, empty bool, dir string) (*build.Prepared, error) {
			return prepareDebInstall(ctx, inputs, empty, dir, filepath.Join(st.Root(), "sources", uncompressedDebs))
		},
	}
}

// prepareDebInstall hands the install stage its packages uncompressed, as
// the input "packages-uncompressed" (dpkg in the VM then runs no
// decompressor), and, for an empty tree, unpacks the essential set
// natively.
func prepareDebInstall(ctx context.Context, inputs map[string]build.StageInput, empty bool, dir, cache string) (*build.Prepared, error) {
	start := time.Now()
	in, ok := inputs["packages"]
	if !ok || in.Dir == "" {
		return nil, fmt.Errorf("org.osbuild.deb.install: no packages input of source files")
	}
	debs := make([]string, len(in.Files))
	for i, f := range in.Files {
		debs[i] = filepath.Join(in.Dir, f)
	}
	plain, err := bootstrap.Uncompressed(ctx, debs, cache)
	if err != nil {
		return nil, err
	}
	res := &build.Prepared{
		Inputs: map[string]build.StageInput{"packages-uncompressed": {Type: in.Type, Dir: cache, Files: in.Files, Data: in.Data}},
		Note:   fmt.Sprintf("%d packages uncompressed in %.1fs", len(debs), time.Since(start).Seconds()),
	}
	if !empty {
		return res, nil
	}
	res.Archive = filepath.Join(dir, "deb-install-essential.tar")
	note, err := bootstrap.PrepareArchive(ctx, plain, res.Archive)
	if err != nil {
		return nil, err
	}
	res.Note += "; " + note
	return res, nil
}
