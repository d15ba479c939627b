package deb

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// Install implements org.osbuild.deb.install: it installs the pinned
// packages of the "packages" input into the tree with the tree's own dpkg,
// run in the VM, and leaves every package configured.
//
// On an empty tree it bootstraps a system the way mmdebstrap does: the
// essential set (Essential: yes and what it needs) is unpacked natively
// (no target code runs), then installed properly by the tree's dpkg
// (preinsts, unpack, postinsts, triggers) with --force-depends, then the
// other packages are installed in input order. On a tree that already has
// a dpkg database, only the packages not installed at the same version
// are installed. Services are kept from starting throughout.
func Install(ctx context.Context, args *api.Arguments) error {
	var opts struct{}
	if err := args.DecodeOptions(&opts); err != nil {
		return err
	}
	paths, err := args.Files("packages")
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("deb.install: the packages input is empty")
	}
	pkgs, err := readPackages(paths)
	if err != nil {
		return err
	}
	inst := &installer{tree: args.Tree, epoch: sourceEpoch(), pkgs: pkgs, inputDir: args.Inputs["packages"].Path}
	if err := inst.auto(args); err != nil {
		return err
	}
	return inst.run(ctx)
}

type installer struct {
	tree, epoch, inputDir string
	pkgs                  []*pkg
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
	_, serr := os.Lstat(status)
	var essential []*pkg
	if errors.Is(serr, os.ErrNotExist) {
		essential = essentialSet(in.pkgs)
		if err := in.prepare(ctx, essential); err != nil {
			return err
		}
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
		start := time.Now()
		what := fmt.Sprintf("install the essential set (%d packages)", len(essential))
		if err := runDpkg(ctx, in.tree, in.epoch, prog, what, append([]string{"--install", "--force-depends"}, in.archives(essential)...)...); err != nil {
			return err
		}
		fmt.Printf("deb: installed the essential set in %.1fs\n", time.Since(start).Seconds())
	}
	start := time.Now()
	runs, err := installPlan(todo, func(name string) bool { return installed[name] != "" })
	if err != nil {
		return fmt.Errorf("deb.install: %w", err)
	}
	for _, r := range runs {
		if err := c.fakeSSD(); err != nil {
			return err
		}
		args := strings.Fields(r.action)
		if r.action != "--configure --pending" {
			args = append(args, "--no-triggers")
		}
		if r.action == "--unpack" {
			args = append(args, in.archives(r.pkgs)...)
		} else {
			for _, p := range r.pkgs {
				args = append(args, p.Name)
			}
		}
		what := strings.TrimPrefix(r.action, "--") + " " + names(r.pkgs)
		if err := runDpkg(ctx, in.tree, in.epoch, prog, strings.TrimSpace(what), args...); err != nil {
			return err
		}
	}
	if len(todo) > 0 {
		fmt.Printf("deb: installed %d more packages in %.1fs\n", len(todo), time.Since(start).Seconds())
	}
	if err := in.verify(); err != nil {
		return err
	}
	return in.markAuto(ctx, todo)
}

// pending is what remains to install after the essential set: packages
// not installed at the same version already, in input order.
func (in *installer) pending(essential []*pkg, installed map[string]string) []*pkg {
	skip := map[*pkg]bool{}
	for _, p := range essential {
		skip[p] = true
	}
	var out []*pkg
	for _, p := range in.pkgs {
		if !skip[p] && installed[p.Name] != p.Version {
			out = append(out, p)
		}
	}
	return out
}

func (in *installer) archives(pkgs []*pkg) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = filepath.Join(debDir, filepath.Base(p.Path))
	}
	return out
}

// prepare makes an empty tree ready for its first dpkg run: mmdebstrap's
// directories and empty database, /dev, and the essential set unpacked.
func (in *installer) prepare(ctx context.Context, essential []*pkg) error {
	arch, err := nativeArch(in.pkgs)
	if err != nil {
		return err
	}
	if err := makeSkeleton(in.tree, arch); err != nil {
		return err
	}
	if err := makeDev(in.tree); err != nil {
		return err
	}
	start := time.Now()
	for _, p := range essential {
		if err := extractOne(ctx, p.Path, api.Root(in.tree)); err != nil {
			return err
		}
	}
	fmt.Printf("deb: unpacked the essential set natively: %d packages in %.1fs\n", len(essential), time.Since(start).Seconds())
	return nil
}

// nativeArch is the architecture of the dpkg package: the one dpkg of the
// new system will call its own.
func nativeArch(pkgs []*pkg) (string, error) {
	for _, p := range pkgs {
		if p.Name == "dpkg" {
			return p.Arch, nil
		}
	}
	return "", fmt.Errorf("deb.install: the packages for an empty tree must include dpkg")
}

// skeleton is mmdebstrap's run_setup: directories dpkg and apt expect.
var skeleton = []string{
	"etc/apt/apt.conf.d", "etc/apt/sources.list.d", "etc/apt/preferences.d",
	"var/cache/apt", "var/lib/apt/lists/partial", "var/lib/dpkg", "etc/dpkg/dpkg.cfg.d",
	"var/log/apt", "var/lib/dpkg/triggers", "var/lib/dpkg/info", "var/lib/dpkg/alternatives",
	"var/lib/dpkg/updates",
}

func makeSkeleton(tree, arch string) error {
	root := api.Root(tree)
	for _, d := range skeleton {
		if _, err := root.MkdirAll("/"+d, 0o755); err != nil {
			return fmt.Errorf("deb.install: create /%s: %w", d, err)
		}
	}
	if _, err := root.MkdirAll("/tmp", 0o755); err != nil {
		return fmt.Errorf("deb.install: create /tmp: %w", err)
	}
	if err := os.Chmod(root.Join("/tmp"), os.ModeSticky|0o777); err != nil {
		return fmt.Errorf("deb.install: chmod /tmp: %w", err)
	}
	if err := root.WriteFile("/var/lib/dpkg/status", nil, 0o644); err != nil {
		return fmt.Errorf("deb.install: create the dpkg database: %w", err)
	}
	if err := root.WriteFile("/var/lib/dpkg/arch", []byte(arch+"\n"), 0o644); err != nil {
		return fmt.Errorf("deb.install: write /var/lib/dpkg/arch: %w", err)
	}
	// As debootstrap and mmdebstrap: no package ships /etc/fstab.
	if err := root.WriteFile("/etc/fstab", []byte("# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"), 0o644); err != nil {
		return fmt.Errorf("deb.install: write /etc/fstab: %w", err)
	}
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
func (in *installer) markAuto(ctx context.Context, installed []*pkg) error {
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
func names(pkgs []*pkg) string {
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
