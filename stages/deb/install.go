package deb

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
	"github.com/osbuild-vm/osbuild-vm/images/debian/bootstrap"
	"github.com/osbuild-vm/osbuild-vm/stages/api"
	"github.com/osbuild-vm/osbuild-vm/stages/internal/tarx"
)

// Install implements org.osbuild.deb.install: it installs the pinned
// packages of the "packages" input into the tree with the tree's own dpkg,
// run in the VM, and leaves every package configured.
//
// It bootstraps a system the way mmdebstrap does, from whichever of three
// states the tree is in:
//   - empty (no dpkg database): the essential set (Essential: yes and what
//     it needs) is unpacked, with no target code (package bootstrap);
//     the host does this natively before the VM runs the stage when the
//     stage starts its pipeline, so the stage then finds the next state;
//   - unpacked (an empty dpkg database): the essential set is installed
//     properly by the tree's dpkg (preinsts, unpack, postinsts, triggers)
//     with --force-depends, then the other packages;
//   - installed (a dpkg database with packages): the packages not
//     installed at the same version are installed, as apt drives dpkg.
//
// Services are kept from starting throughout.
func Install(ctx context.Context, args *api.Arguments) error {
	var opts struct{}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	// The host hands the packages over uncompressed too, when it can: the
	// same packages, that dpkg unpacks without an emulated decompressor.
	input := "packages"
	if _, ok := args.Inputs["packages-uncompressed"]; ok {
		input = "packages-uncompressed"
	}
	paths, err := args.Files(input)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("deb.install: the packages input is empty")
	}
	pkgs, err := bootstrap.ReadPackages(paths)
	if err != nil {
		return err
	}
	inst := &installer{tree: args.Tree, epoch: sourceEpoch(), pkgs: pkgs, inputDir: args.Inputs[input].Path}
	if err := inst.auto(args); err != nil {
		return err
	}
	return inst.run(ctx)
}

type installer struct {
	tree, epoch, inputDir string
	pkgs                  []*bootstrap.Package
	autoNames             map[string]bool
}

// sourceEpoch is SOURCE_DATE_EPOCH as the agent set it from the manifest.
func sourceEpoch() string {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return ""
	}
	return v
}

// auto reads which references carry {"deb.auto": true}: packages that
// were pulled in as dependencies, marked automatically installed for apt
// as apt itself would have.
func (in *installer) auto(args *api.Arguments) error {
	in.autoNames = map[string]bool{}
	for i, ref := range args.Inputs["packages"].Data.Files {
		if len(ref.Metadata) == 0 {
			continue
		}
		var meta struct {
			Auto bool `json:"deb.auto"`
		}
		if err := json.Unmarshal(ref.Metadata, &meta); err != nil {
			return fmt.Errorf("deb.install: metadata of %s: %w", ref.Checksum, err)
		}
		if meta.Auto {
			in.autoNames[in.pkgs[i].Name] = true
		}
	}
	return nil
}

func (in *installer) run(ctx context.Context) (err error) {
	status := filepath.Join(in.tree, "var/lib/dpkg/status")
	if _, err := os.Lstat(status); errors.Is(err, os.ErrNotExist) {
		if err := in.unpackEssential(ctx); err != nil {
			return err
		}
	}
	var essential []*bootstrap.Package
	if _, err := os.Lstat(filepath.Join(in.tree, bootstrap.Unpacked)); err == nil {
		// unpacked, never installed: the essential set comes first
		essential = bootstrap.EssentialSet(in.pkgs)
	}
	installed, err := readStatus(status)
	if err != nil {
		return err
	}
	todo := in.pending(essential, installed)
	c, err := enterChroot(in.tree, in.inputDir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	prog := newProgress(os.Stdout, len(essential)+len(todo))
	if len(essential) > 0 {
		if err := in.installEssential(ctx, essential, prog); err != nil {
			return err
		}
	}
	if err := in.installRest(ctx, c, todo, installed, prog); err != nil {
		return err
	}
	if err := in.verify(); err != nil {
		return err
	}
	return in.markAuto(ctx, todo)
}

// installEssential finishes what mmdebstrap's `dpkg --install
// --force-depends` of the essential set does on a tree where the set is
// unpacked and dpkg's records of it are staged (bootstrap.Unpacked): for
// each package in order its preinst runs, then its status stanza goes in,
// as dpkg --unpack would have left it; then dpkg configures them all.
// dpkg's own unpack, which would write every file again, is what this
// saves under emulation.
func (in *installer) installEssential(ctx context.Context, essential []*bootstrap.Package, prog *progress) error {
	start := time.Now()
	if err := in.preinsts(ctx); err != nil {
		return err
	}
	fmt.Printf("deb: ran the essential set's preinsts in %.1fs\n", time.Since(start).Seconds())
	args := []string{"--configure", "--force-depends"}
	for _, p := range essential {
		args = append(args, p.Name)
	}
	what := fmt.Sprintf("configure the essential set (%d packages)", len(essential))
	if err := runDpkg(ctx, in.tree, in.epoch, prog, what, args...); err != nil {
		return err
	}
	fmt.Printf("deb: installed the essential set in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// installRest installs the packages after the essential set as apt drives
// dpkg (bootstrap.InstallPlan).
func (in *installer) installRest(ctx context.Context, c *chroot, todo []*bootstrap.Package, installed map[string]string, prog *progress) error {
	if len(todo) == 0 {
		return nil
	}
	start := time.Now()
	runs, err := bootstrap.InstallPlan(todo, func(name string) bool { return installed[name] != "" })
	if err != nil {
		return fmt.Errorf("deb.install: %w", err)
	}
	for _, r := range runs {
		if err := c.fakeSSD(); err != nil {
			return err
		}
		args := strings.Fields(r.Action)
		if r.Action != "--configure --pending" {
			args = append(args, "--no-triggers")
		}
		if r.Action == "--unpack" {
			args = append(args, in.archives(r.Packages)...)
		} else {
			for _, p := range r.Packages {
				args = append(args, p.Name)
			}
		}
		what := strings.TrimPrefix(r.Action, "--") + " " + names(r.Packages)
		if err := runDpkg(ctx, in.tree, in.epoch, prog, strings.TrimSpace(what), args...); err != nil {
			return err
		}
	}
	fmt.Printf("deb: installed %d more packages in %.1fs\n", len(todo), time.Since(start).Seconds())
	return nil
}

// pending is what remains to install after the essential set: packages
// not installed at the same version already, in input order.
func (in *installer) pending(essential []*bootstrap.Package, installed map[string]string) []*bootstrap.Package {
	skip := map[*bootstrap.Package]bool{}
	for _, p := range essential {
		skip[p] = true
	}
	var out []*bootstrap.Package
	for _, p := range in.pkgs {
		if !skip[p] && installed[p.Name] != p.Version {
			out = append(out, p)
		}
	}
	return out
}

func (in *installer) archives(pkgs []*bootstrap.Package) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = filepath.Join(debDir, filepath.Base(p.Path))
	}
	return out
}

// unpackEssential makes an empty tree what the host makes it before the
// stage when it can (mmdebstrap's setup and extract phases): the same
// archive, written here and unpacked as it is written.
func (in *installer) unpackEssential(ctx context.Context) error {
	start := time.Now()
	r, w := io.Pipe()
	go func() {
		w.CloseWithError(bootstrap.WriteEssential(ctx, w, in.pkgs, time.Now()))
	}()
	err := tarx.Extract(ctx, r, api.Root(in.tree), tarx.Options{Owners: os.Geteuid() == 0})
	r.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("deb.install: unpack the essential set: %w", err)
	}
	fmt.Printf("deb: unpacked the essential set in the VM in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// readStatus returns package -> version of what dpkg's status file says is
// installed (state "installed").
func readStatus(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deb.install: read the dpkg database: %w", err)
	}
	defer f.Close()
	paras, err := deb822.ReadAll(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("deb.install: read the dpkg database: %w", err)
	}
	out := map[string]string{}
	for _, p := range paras {
		if strings.HasSuffix(p.Value("Status"), " installed") {
			out[p.Value("Package")] = p.Value("Version")
		}
	}
	return out, nil
}

// verify checks that dpkg left every package of the input configured at
// the pinned version.
func (in *installer) verify() error {
	installed, err := readStatus(filepath.Join(in.tree, "var/lib/dpkg/status"))
	if err != nil {
		return err
	}
	var bad []string
	for _, p := range in.pkgs {
		if v := installed[p.Name]; v != p.Version {
			bad = append(bad, fmt.Sprintf("%s %s (dpkg has %q)", p.Name, p.Version, v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("deb.install: not configured after dpkg: %s", strings.Join(bad, ", "))
	}
	return nil
}

// markAuto records in apt's extended_states which of the packages this
// stage installed were dependencies, with the tree's own apt-mark, so the
// file is what apt itself writes. A tree without apt has no such state.
func (in *installer) markAuto(ctx context.Context, installed []*bootstrap.Package) error {
	var names []string
	for _, p := range installed {
		if in.autoNames[p.Name] {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(in.tree, "usr/bin/apt-mark")); err != nil {
		return nil
	}
	fmt.Printf("deb: marking %d packages automatically installed\n", len(names))
	return runInTree(ctx, in.tree, in.epoch, "/usr/bin/apt-mark", append([]string{"auto"}, names...)...)
}

// names lists packages for a message, at most a few of them.
func names(pkgs []*bootstrap.Package) string {
	var n []string
	for i, p := range pkgs {
		if i == 4 {
			n = append(n, fmt.Sprintf("and %d more", len(pkgs)-i))
			break
		}
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}
