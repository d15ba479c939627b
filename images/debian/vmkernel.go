package debian

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// VMKernel returns the build-VM kernel for opts.Arch: from the store when
// it is there, else fetched from the archive, verified (InRelease
// signature, Packages digest, .deb digest), extracted and cached. A bad
// signature or digest is ErrBadSignature or ErrDigestMismatch, and then
// nothing is cached.
func VMKernel(ctx context.Context, opts KernelOptions) (*Kernel, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	c := cache{root: filepath.Join(opts.StoreDir, "vm-kernels")}
	key := indexKey{Mirror: opts.Mirror, Suite: opts.Suite, Arch: opts.Arch}
	if !opts.Refresh {
		if k, err := c.lookup(key); err == nil {
			opts.logf("vm kernel %s %s: cached in %s", k.Package, k.PackageVersion, k.Dir)
			return k, nil
		}
	}
	a := &archive.Archive{Mirror: opts.Mirror, Suite: opts.Suite, Keyring: opts.Keyring, Client: opts.Client, Now: opts.Now}
	pkg, err := resolveKernelPackage(ctx, a, opts.Arch)
	if err != nil {
		return nil, err
	}
	k, err := c.load(pkg.SHA256)
	if err != nil {
		opts.logf("vm kernel %s %s: downloading %d bytes", pkg.Package, pkg.Version, pkg.Size)
		if k, err = c.fetch(ctx, a, pkg, opts.Arch); err != nil {
			return nil, err
		}
	}
	if err := c.remember(key, pkg.SHA256); err != nil {
		return nil, err
	}
	return k, nil
}

// fill applies defaults and checks the options.
func (o *KernelOptions) fill() error {
	if err := CheckArch(o.Arch); err != nil {
		return err
	}
	if o.StoreDir == "" {
		return fmt.Errorf("vm kernel: no store directory given")
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if strings.ContainsAny(o.Suite, "/ ") || strings.Contains(o.Suite, "..") {
		return fmt.Errorf("vm kernel: suite %q is not a suite name", o.Suite)
	}
	m, err := archive.ResolveMirror(o.Mirror)
	if err != nil {
		return err
	}
	o.Mirror = m
	return nil
}

// resolveKernelPackage follows the metapackage linux-image-cloud-<arch> to
// the versioned kernel package it depends on.
func resolveKernelPackage(ctx context.Context, a *archive.Archive, arch string) (archive.Package, error) {
	pkgs, err := a.Packages(ctx, arch)
	if err != nil {
		return archive.Package{}, err
	}
	metaName := "linux-image-cloud-" + arch
	meta, ok := archive.Newest(pkgs, archive.Relation{Name: metaName})
	if !ok {
		return archive.Package{}, fmt.Errorf("resolve vm kernel: %s in %s: %w", metaName, a.Suite, archive.ErrNotFound)
	}
	groups, err := archive.ParseRelations(meta.Depends)
	if err != nil {
		return archive.Package{}, fmt.Errorf("resolve vm kernel: %s: %w", metaName, err)
	}
	for _, group := range groups {
		rel := group[0]
		if !strings.HasPrefix(rel.Name, "linux-image-") || !strings.HasSuffix(rel.Name, "-cloud-"+arch) {
			continue
		}
		if p, ok := archive.Newest(pkgs, rel); ok {
			return p, nil
		}
		return archive.Package{}, fmt.Errorf("resolve vm kernel: %s (from %s): %w", rel, metaName, archive.ErrNotFound)
	}
	return archive.Package{}, fmt.Errorf("resolve vm kernel: %s %s depends on no linux-image-*-cloud-%s: %w", metaName, meta.Version, arch, archive.ErrNotFound)
}

// fetch downloads pkg into a temporary directory of the cache, extracts
// the kernel there and renames it into place.
func (c cache) fetch(ctx context.Context, a *archive.Archive, pkg archive.Package, arch string) (*Kernel, error) {
	tmp, err := c.tempDir()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	deb := filepath.Join(tmp, "package.deb")
	if err := a.Download(ctx, pkg, deb); err != nil {
		return nil, err
	}
	k, err := extractKernel(ctx, deb, tmp, arch)
	if err != nil {
		return nil, fmt.Errorf("extract vm kernel %s: %w", pkg.Package, err)
	}
	if err := os.Remove(deb); err != nil {
		return nil, fmt.Errorf("extract vm kernel %s: %w", pkg.Package, err)
	}
	k.Package, k.PackageVersion, k.SHA256 = pkg.Package, pkg.Version, pkg.SHA256
	return c.commit(tmp, k)
}
