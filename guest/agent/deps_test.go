package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are packages (or, ending in "/", package trees) that must not
// reach the guest binary: they are the host's, or large, or both. Every
// byte of the binary is read by the guest under TCG at each boot.
var forbidden = []string{
	"net/http", "crypto/tls", "crypto/x509", "plugin",
	"github.com/osbuild-vm/osbuild-vm/engine/",
	"github.com/osbuild-vm/osbuild-vm/host/",
	"github.com/osbuild-vm/osbuild-vm/cli",
	"github.com/osbuild-vm/osbuild-vm/images/",
	"github.com/osbuild-vm/osbuild-vm/initramfs", // modorder alone is allowed
	"github.com/santhosh-tekuri/jsonschema/",
	"github.com/ProtonMail/",
	"github.com/digitalocean/",
	"github.com/u-root/u-root/pkg/cpio",
}

// allowed overrides forbidden for exact package paths.
var allowed = map[string]bool{
	"github.com/osbuild-vm/osbuild-vm/initramfs/modorder": true,
	// pure: what a new Debian system starts from, for the install stage
	"github.com/osbuild-vm/osbuild-vm/images/debian/bootstrap": true,
}

// The NoCloud seed stage writes ISO 9660 with github.com/kdomanski/iso9660
// in the guest (a stage's output must come from the guest): with the stage,
// the guest binary grew by 41 kB (amd64) and 131 kB (arm64).

func TestGuestDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH to list the guest binary's dependencies")
	}
	cmd := exec.Command(goTool, "list", "-deps", "github.com/osbuild-vm/osbuild-vm/guest/cmd/osbuild-guest")
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave only %d packages", len(deps))
	}
	for _, dep := range deps {
		if bad := forbiddenDep(dep); bad != "" {
			t.Errorf("guest binary depends on %s (forbidden: %s)", dep, bad)
		}
	}
}

func forbiddenDep(dep string) string {
	if allowed[dep] {
		return ""
	}
	for _, f := range forbidden {
		if dep == strings.TrimSuffix(f, "/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) ||
			strings.HasPrefix(dep, f+"/") {
			return f
		}
	}
	return ""
}

func TestForbiddenDep(t *testing.T) {
	for dep, want := range map[string]bool{
		"net/http":          true,
		"net/http/httptest": true,
		"net":               false,
		"github.com/osbuild-vm/osbuild-vm/engine/store":       true,
		"github.com/osbuild-vm/osbuild-vm/initramfs":          true,
		"github.com/osbuild-vm/osbuild-vm/initramfs/modorder": false,
		"github.com/osbuild-vm/osbuild-vm/jsoncomm":           false,
	} {
		if got := forbiddenDep(dep) != ""; got != want {
			t.Errorf("forbiddenDep(%s) = %v, want %v", dep, got, want)
		}
	}
}
