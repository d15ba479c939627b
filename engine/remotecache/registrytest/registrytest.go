// Package registrytest starts a real OCI registry for tests: Debian's
// docker-registry package (the CNCF distribution registry), listening on
// 127.0.0.1 on a free port with a throwaway storage directory, optionally
// behind htpasswd authentication, and stopped when the test ends. A test
// that needs it skips when the binary is missing, except under CI=true,
// where it fails: CI installs it (test/deps.sh).
package registrytest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is the distribution registry as Debian installs it.
const Binary = "/usr/bin/docker-registry"

// Options configure a registry. The zero value serves without
// authentication.
type Options struct {
	// Users, when set, turns on htpasswd (HTTP basic) authentication with
	// these user -> password pairs.
	Users map[string]string
}

// Registry is a running registry.
type Registry struct {
	// Host is host:port, as a remote-cache reference starts.
	Host string
	// StorageDir is the registry's filesystem storage root: blobs live
	// under docker/registry/v2/blobs/sha256/<2 hex>/<digest>/data.
	StorageDir string

	cmd     *exec.Cmd
	stopped sync.Once
	done    chan struct{}
	log     *os.File
}

// Start starts a registry for t and stops it when t ends.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		r, err := start(dir, opts, attempt)
		if err == nil {
			t.Cleanup(r.Stop)
			return r
		}
		last = err
	}
	t.Fatalf("start registry: %v", last)
	return nil
}

// Require skips t when the registry is not installed, or fails it under
// CI=true.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing; install Debian's docker-registry (test/deps.sh does)", Binary)
	}
	t.Skipf("SKIP: %s not installed (Debian package docker-registry; test/deps.sh installs it)", Binary)
}

// start writes a configuration for a free port and starts the registry.
func start(dir string, opts Options, attempt int) (*Registry, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(port), StorageDir: filepath.Join(dir, fmt.Sprintf("storage-%d", attempt)),
		done: make(chan struct{})}
	config, err := writeConfig(dir, r, opts, attempt)
	if err != nil {
		return nil, err
	}
	if r.log, err = os.Create(filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))); err != nil {
		return nil, err
	}
	r.cmd = exec.Command(Binary, "serve", config)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		r.log.Close()
		return nil, err
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	if err := r.waitReady(); err != nil {
		r.Stop()
		return nil, fmt.Errorf("%w; log %s: %s", err, r.log.Name(), r.Log())
	}
	return r, nil
}

// freePort asks the kernel for a port that is free now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes the registry's config.yml (and htpasswd file).
func writeConfig(dir string, r *Registry, opts Options, attempt int) (string, error) {
	auth := ""
	if len(opts.Users) > 0 {
		path := filepath.Join(dir, fmt.Sprintf("htpasswd-%d", attempt))
		if err := writeHtpasswd(path, opts.Users); err != nil {
			return "", err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: osbuild-vm-test\n    path: %s\n", path)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, r.StorageDir, r.Host, auth)
	path := filepath.Join(dir, fmt.Sprintf("config-%d.yml", attempt))
	return path, os.WriteFile(path, []byte(config), 0o600)
}

// writeHtpasswd writes user:bcrypt lines, as Apache's htpasswd -B does.
func writeHtpasswd(path string, users map[string]string) error {
	var lines []byte
	for user, pass := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			return err
		}
		lines = append(lines, user+":"+string(hash)+"\n"...)
	}
	return os.WriteFile(path, lines, 0o600)
}

// waitReady polls /v2/ until the registry answers (200, or 401 behind
// authentication), for at most 30 seconds.
func (r *Registry) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Host+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case <-r.done:
			return fmt.Errorf("registry on %s exited", r.Host)
		case <-ctx.Done():
			return fmt.Errorf("registry on %s did not answer within 30s", r.Host)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the registry (SIGTERM, then SIGKILL after 5 seconds) and
// waits for it to exit. It is idempotent; a test may call it to take the
// registry away in the middle of a run.
func (r *Registry) Stop() {
	r.stopped.Do(func() {
		if r.cmd.Process != nil {
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(5 * time.Second):
				r.cmd.Process.Kill()
				<-r.done
			}
		}
		r.log.Close()
	})
}

// Log returns what the registry printed so far (its warnings and errors).
func (r *Registry) Log() string {
	b, _ := os.ReadFile(r.log.Name())
	return string(b)
}

// Ref returns a remote-cache reference for repository repo on this
// registry: host:port/repo.
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// BlobPath returns the file in which the registry stores blob digest
// ("sha256:<hex>"), for a test that damages it.
func (r *Registry) BlobPath(digest string) string {
	hex := digest[len("sha256:"):]
	return filepath.Join(r.StorageDir, "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}
