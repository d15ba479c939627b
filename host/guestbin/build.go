package guestbin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// buildCached returns the cached binary for the current sources, building
// it first when there is none.
func buildCached(ctx context.Context, arch string) ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("no go toolchain in PATH: %w", ErrUnavailable)
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	key, err := sourceKey(ctx, goTool, root, arch)
	if err != nil {
		return nil, err
	}
	dir, err := cacheDir()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, key, FileName(arch))
	if data, err := os.ReadFile(out); err == nil && len(data) > 0 {
		return data, nil
	}
	if err := build(ctx, goTool, root, arch, "dev-"+key[:12], out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// moduleRoot finds the module's source: this file's directory when the
// binary was built without -trimpath (go test, go run), else the module
// containing the working directory.
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if isModule(root) {
			return root, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module source: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isModule(d) {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("no osbuild-vm module source around %s: %w", wd, ErrUnavailable)
		}
	}
}

// isModule reports whether dir holds the osbuild-vm module.
func isModule(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(first) == "module github.com/osbuild-vm/osbuild-vm"
}

func cacheDir() (string, error) {
	if d := os.Getenv("OSBUILD_VM_GUESTBIN_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("guest binary cache: %w", err)
	}
	return filepath.Join(d, "osbuild-vm", "guestbin"), nil
}

// sourceKey digests everything the binary is built from: the toolchain's
// version, the target, go.mod and go.sum (which pin every dependency) and
// each of the module's own files the package pulls in.
func sourceKey(ctx context.Context, goTool, root, arch string) (string, error) {
	files, err := goList(ctx, goTool, root, arch, "-deps", "-f",
		`{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`, PackagePath)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	version, err := exec.CommandContext(ctx, goTool, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	fmt.Fprintf(h, "%s\x00%s\x00", bytes.TrimSpace(version), arch)
	for _, f := range append([]string{filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}, files...) {
		if err := hashFile(h, f); err != nil {
			return "", fmt.Errorf("digest guest sources: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\x00", path)
	_, err = io.Copy(h, f)
	return err
}

func goList(ctx context.Context, goTool, root, arch string, args ...string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goTool, append([]string{"list"}, args...)...)
	cmd.Dir, cmd.Env = root, targetEnv(arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, firstLine(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}

func targetEnv(arch string) []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
}

// build compiles the guest binary to out, through a temporary file renamed
// into place so that concurrent builders never see half a binary.
func build(ctx context.Context, goTool, root, arch, version, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("build guest binary: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".build-*")
	if err != nil {
		return fmt.Errorf("build guest binary: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// -buildvcs=false: the guest binary carries no VCS stamp, and asking
	// git for one fails in a checkout owned by another user ("dubious
	// ownership"), which is how a plain user meets a root-owned clone.
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -X "+VersionVar+"="+version, "-o", tmp.Name(), PackagePath)
	cmd.Dir, cmd.Env = root, targetEnv(arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w: %s", PackagePath, arch, err, firstLine(stderr.String()))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("build guest binary: %w", err)
	}
	return nil
}

// firstLine is the first line of a tool's error output that is not a
// package header, so that the error stays one line; the rest is what the
// user sees by running the same command.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "# ") {
			return l
		}
	}
	return ""
}
