package remotecache

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/remotecache/registrytest"
)

// dockerConfig writes a Docker configuration file with user:pass for host
// ("auths", as `docker login` writes it without a credential helper).
func dockerConfig(t *testing.T, host, user, pass string) string {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	path := filepath.Join(t.TempDir(), "config.json")
	data := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCredentials: a registry behind htpasswd takes the credentials of
// the Docker configuration file; wrong or missing ones are ErrDenied, in
// one line that says where credentials come from.
func TestCredentials(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"ci": "s3cret"}})
	ctx := context.Background()
	a, _ := openStore(t, unlimited)
	id := testID(20)
	commitObject(t, a, id, 2048)

	for _, tc := range []struct{ name, config string }{
		{"wrong password", dockerConfig(t, reg.Host, "ci", "wrong")},
		{"unknown user", dockerConfig(t, reg.Host, "nobody", "s3cret")},
		{"no credentials", dockerConfig(t, "other.example:5000", "ci", "s3cret")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openCache(t, reg.Ref("private"), Options{DockerConfig: tc.config})
			_, err := c.Push(ctx, a, id)
			if !errors.Is(err, ErrDenied) {
				t.Fatalf("push: %v, want ErrDenied", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "docker login "+reg.Host) {
				t.Fatalf("not one line naming how to log in: %q", msg)
			}
			b, dir := openStore(t, unlimited)
			if _, err := c.Pull(ctx, b, id); !errors.Is(err, ErrDenied) {
				t.Fatalf("pull: %v, want ErrDenied", err)
			}
			nothingImported(t, b, dir, id)
		})
	}

	c := openCache(t, reg.Ref("private"), Options{DockerConfig: dockerConfig(t, reg.Host, "ci", "s3cret")})
	if _, err := c.Push(ctx, a, id); err != nil {
		t.Fatalf("push with the right credentials: %v", err)
	}
	b, _ := openStore(t, unlimited)
	if _, err := c.Pull(ctx, b, id); err != nil {
		t.Fatalf("pull with the right credentials: %v", err)
	}
	checkImported(t, b, id, 2048)
}

// TestDockerConfigEnv: without an explicit file, credentials come from
// $DOCKER_CONFIG/config.json.
func TestDockerConfigEnv(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Users: map[string]string{"ci": "s3cret"}})
	t.Setenv("DOCKER_CONFIG", filepath.Dir(dockerConfig(t, reg.Host, "ci", "s3cret")))
	c, err := Open(reg.Ref("private"), Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := openStore(t, unlimited)
	commitObject(t, a, testID(21), 100)
	if _, err := c.Push(context.Background(), a, testID(21)); err != nil {
		t.Fatal(err)
	}
}

// TestPlainHTTPOnlyWhenAsked: without PlainHTTP the client speaks HTTPS,
// so a plain-HTTP registry is not reached at all.
func TestPlainHTTPOnlyWhenAsked(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	c, err := Open(reg.Ref("cache"), Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := openStore(t, unlimited)
	commitObject(t, a, testID(22), 100)
	_, err = c.Push(context.Background(), a, testID(22))
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("push over HTTPS to a plain registry: %v", err)
	}
	if has, err := openCache(t, reg.Ref("cache"), Options{}).Has(context.Background(), testID(22)); err != nil || has {
		t.Fatalf("something reached the registry: %v, %v", has, err)
	}
}

// TestParseRef: a reference is HOST[:PORT]/REPOSITORY, nothing else.
func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"registry.example/ci/osbuild-cache", true},
		{"127.0.0.1:5000/cache", true},
		{"localhost:5000/a/b/c", true},
		{"registry.example", false},
		{"registry.example/", false},
		{"registry.example/Upper", false},
		{"registry.example/cache:tag", false},
		{"registry.example/cache@sha256:" + strings.Repeat("0", 64), false},
		{"", false},
	} {
		_, err := ParseRef(tc.ref)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRef(%q) = %v, want ok %v", tc.ref, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "HOST[:PORT]/REPOSITORY") {
			t.Errorf("ParseRef(%q): no hint: %v", tc.ref, err)
		}
	}
}
