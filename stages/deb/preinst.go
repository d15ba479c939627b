package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
	"github.com/osbuild-vm/osbuild-vm/images/debian/bootstrap"
)

// dpkgForce is DPKG_FORCE as dpkg --force-depends sets it for the scripts
// it runs: the force options on, in dpkg's table order (security-mac and
// downgrade are on by default).
const dpkgForce = "security-mac,downgrade,depends"

// preinsts takes the packages staged in bootstrap.Unpacked in order: each
// one's control members become /var/lib/dpkg/tmp.ci, its preinst runs
// from there as dpkg runs a new package's (debconf, for one, names the
// package from tmp.ci/control), then its stanza goes into the status
// file, as dpkg records the package unpacked. The staging is gone
// afterwards.
func (in *installer) preinsts(ctx context.Context) error {
	staged := filepath.Join(in.tree, bootstrap.Unpacked)
	entries, err := os.ReadDir(staged)
	if err != nil {
		return fmt.Errorf("deb.install: %w", err)
	}
	status, err := os.OpenFile(filepath.Join(in.tree, "var/lib/dpkg/status"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("deb.install: the dpkg database: %w", err)
	}
	defer status.Close()
	for _, e := range entries { // ReadDir sorts: 0000, 0001, ...
		stanza, err := in.preinst(ctx, filepath.Join(staged, e.Name()))
		if err != nil {
			return err
		}
		if _, err := status.WriteString(stanza + "\n"); err != nil {
			return fmt.Errorf("deb.install: the dpkg database: %w", err)
		}
	}
	if err := status.Close(); err != nil {
		return fmt.Errorf("deb.install: the dpkg database: %w", err)
	}
	return os.RemoveAll(staged)
}

// preinst runs one staged package's preinst from tmp.ci with the
// arguments and environment dpkg gives it for a new installation, and
// returns the package's status stanza.
func (in *installer) preinst(ctx context.Context, dir string) (string, error) {
	stanza, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return "", fmt.Errorf("deb.install: %w", err)
	}
	paras, err := deb822.ReadAll(bytes.NewReader(stanza))
	if err != nil || len(paras) != 1 {
		return "", fmt.Errorf("deb.install: %s: not one status stanza", dir)
	}
	name, arch := paras[0].Value("Package"), paras[0].Value("Architecture")
	tmpci := filepath.Join(in.tree, "var/lib/dpkg/tmp.ci")
	if err := os.RemoveAll(tmpci); err != nil {
		return "", fmt.Errorf("deb.install: %w", err)
	}
	if err := os.Rename(filepath.Join(dir, "tmp.ci"), tmpci); err != nil {
		return "", fmt.Errorf("deb.install: %w", err)
	}
	defer os.RemoveAll(tmpci)
	if _, err := os.Lstat(filepath.Join(tmpci, "preinst")); errors.Is(err, os.ErrNotExist) {
		return string(stanza), nil
	}
	fmt.Printf("deb: running %s.preinst install\n", name)
	env := append(dpkgEnv(in.epoch),
		"DPKG_ADMINDIR=/var/lib/dpkg", "DPKG_ROOT=", "DPKG_FORCE="+dpkgForce,
		"DPKG_MAINTSCRIPT_PACKAGE="+name, "DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1",
		"DPKG_MAINTSCRIPT_ARCH="+arch, "DPKG_MAINTSCRIPT_NAME=preinst",
		"DPKG_MAINTSCRIPT_DEBUG=0", "DPKG_RUNNING_VERSION="+in.dpkgVersion())
	if err := runScript(ctx, in.tree, env, "/var/lib/dpkg/tmp.ci/preinst", "install"); err != nil {
		return "", fmt.Errorf("deb.install: %s: %w", name, err)
	}
	return string(stanza), nil
}

// dpkgVersion is the version of the dpkg being installed, which runs the
// scripts (DPKG_RUNNING_VERSION).
func (in *installer) dpkgVersion() string {
	for _, p := range in.pkgs {
		if p.Name == "dpkg" {
			return p.Version
		}
	}
	return ""
}
