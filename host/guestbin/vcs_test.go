package guestbin

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildInCheckoutOfAnotherUser builds the guest binary from a git
// checkout that belongs to another user, as a plain user meets a
// root-owned clone: git refuses such a repository ("dubious ownership"),
// so a build that asks git for a VCS stamp fails ("error obtaining VCS
// status"). The build from source must not depend on it.
func TestBuildInCheckoutOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving the checkout to another user needs root; CI runs as root")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go toolchain: %v", err)
	}
	gitTool, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("no git: %v", err)
	}
	// A go env file may turn VCS stamping off for everyone (this
	// machine's does); a user's default is auto.
	t.Setenv("GOFLAGS", "-buildvcs=auto")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	checkout := foreignCheckout(ctx, t, goTool, gitTool)
	out := filepath.Join(t.TempDir(), FileName("amd64"))
	if err := build(ctx, goTool, checkout, "amd64", "dev-test", out); err != nil {
		t.Fatalf("build in a checkout of another user: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkStatic(t, data, elf.EM_X86_64)
}

// foreignCheckout copies the guest binary's sources into a fresh git
// repository and gives it to a user id that is not ours.
func foreignCheckout(ctx context.Context, t *testing.T, goTool, gitTool string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := goList(ctx, goTool, root, "amd64", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`, PackagePath)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "checkout")
	for _, f := range append(files, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")) {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("source %s outside the module", f)
		}
		copyFile(t, f, filepath.Join(dst, rel))
	}
	git := exec.CommandContext(ctx, gitTool, "init", "-q", dst)
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	const otherUID = 4242
	err = filepath.Walk(dst, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, otherUID, otherUID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
