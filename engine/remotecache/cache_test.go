package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/osbuild-vm/osbuild-vm/engine/remotecache/registrytest"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// testID returns a valid object id derived from n.
func testID(n int) string { return fmt.Sprintf("%064x", n+0xabc0) }

// unlimited is --cache-max-size unlimited.
var unlimited = ptr(store.Unlimited)

func ptr(n int64) *int64 { return &n }

// openStore opens a store in a new directory (limit nil: keeps nothing).
func openStore(t *testing.T, limit *int64) (*store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{MaxSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}

// treeBytes is a test object's tree: size bytes derived from id.
func treeBytes(id string, size int) []byte {
	return bytes.Repeat([]byte(id[:16]), size/16+1)[:size]
}

// testMeta is the stage metadata a test object is committed with.
func testMeta(id string) map[string]json.RawMessage {
	return map[string]json.RawMessage{id: json.RawMessage(`{"packages":["a","b"]}`)}
}

// commitObject commits object id with a tree of size bytes to st.
func commitObject(t *testing.T, st *store.Store, id string, size int) {
	t.Helper()
	p, err := st.NewObject(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteTree(func(w io.Writer) error { _, err := w.Write(treeBytes(id, size)); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Commit(testMeta(id)); err != nil {
		t.Fatal(err)
	}
}

// openCache opens ref over plain HTTP, with no Docker credentials unless
// config is given.
func openCache(t *testing.T, ref string, opts Options) *Cache {
	t.Helper()
	opts.PlainHTTP = true
	if opts.DockerConfig == "" {
		opts.DockerConfig = filepath.Join(t.TempDir(), "no-config.json")
	}
	c, err := Open(ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkImported fails t unless st holds object id, intact, with the tree
// and metadata it was pushed with.
func checkImported(t *testing.T, st *store.Store, id string, size int) {
	t.Helper()
	o, err := st.Tree(id)
	if err != nil {
		t.Fatalf("pulled object: %v", err)
	}
	got, err := os.ReadFile(o.TreePath())
	if err != nil || !bytes.Equal(got, treeBytes(id, size)) {
		t.Fatalf("pulled tree differs (%d bytes, %v)", len(got), err)
	}
	meta, err := o.Meta()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testMeta(id), meta, cmp.Transformer("str", func(r json.RawMessage) string { return string(r) })); diff != "" {
		t.Fatalf("metadata (-pushed +pulled):\n%s", diff)
	}
}

// nothingImported fails t when the store at dir holds object id or any
// pending object: a refused or broken pull leaves nothing.
func nothingImported(t *testing.T, st *store.Store, dir, id string) {
	t.Helper()
	if _, ok := st.Lookup(id); ok {
		t.Fatalf("object %s is in the store after a failed pull", id)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", id)); err == nil {
		t.Fatalf("objects/%s exists after a failed pull", id)
	}
	pending, _ := filepath.Glob(filepath.Join(st.RunDir(), "pending-*"))
	if len(pending) != 0 {
		t.Fatalf("half-imported objects left: %v", pending)
	}
}

// TestPushPullRoundTrip: an object pushed from one store and pulled into
// another arrives whole (tree, metadata, digest), counted in bytes; a
// second push of the same object uploads nothing.
func TestPushPullRoundTrip(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	c := openCache(t, reg.Ref("ci/cache"), Options{})
	a, _ := openStore(t, unlimited)
	id, size := testID(1), 300<<10
	commitObject(t, a, id, size)

	pushed, err := c.Push(ctx, a, id)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Present || pushed.Bytes < int64(size) {
		t.Fatalf("first push: %+v", pushed)
	}
	again, err := c.Push(ctx, a, id)
	if err != nil || !again.Present || again.Bytes != 0 {
		t.Fatalf("second push: %+v, %v", again, err)
	}

	b, _ := openStore(t, unlimited)
	pulled, err := c.Pull(ctx, b, id)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Bytes != pushed.Bytes {
		t.Errorf("pulled %d bytes, pushed %d", pulled.Bytes, pushed.Bytes)
	}
	checkImported(t, b, id, size)
	if !b.Cached(id) {
		t.Error("the pulled object is not in the cache of an unlimited store")
	}
	if has, err := c.Has(ctx, id); err != nil || !has {
		t.Errorf("Has = %v, %v", has, err)
	}
}

// TestPullIntoStoreThatKeepsNothing: under the default size limit of 0, a
// pulled object floats: usable for the run, gone when the store closes.
func TestPullIntoStoreThatKeepsNothing(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	c := openCache(t, reg.Ref("cache"), Options{})
	a, _ := openStore(t, unlimited)
	commitObject(t, a, testID(2), 1000)
	if _, err := c.Push(ctx, a, testID(2)); err != nil {
		t.Fatal(err)
	}
	b, _ := openStore(t, nil)
	if _, err := c.Pull(ctx, b, testID(2)); err != nil {
		t.Fatal(err)
	}
	checkImported(t, b, testID(2), 1000)
	if b.Cached(testID(2)) {
		t.Error("a store that keeps nothing cached the pulled object")
	}
}

// TestPullMiss: an ID the repository lacks is ErrNotFound, for Has too;
// an invalid ID never reaches the registry.
func TestPullMiss(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	c := openCache(t, reg.Ref("cache"), Options{})
	st, dir := openStore(t, unlimited)
	if _, err := c.Pull(ctx, st, testID(3)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pull of a missing ID: %v, want ErrNotFound", err)
	}
	nothingImported(t, st, dir, testID(3))
	if has, err := c.Has(ctx, testID(3)); err != nil || has {
		t.Fatalf("Has = %v, %v", has, err)
	}
	if _, err := c.Pull(ctx, st, "../x"); !errors.Is(err, store.ErrInvalidID) {
		t.Fatalf("pull of an invalid ID: %v", err)
	}
}

// TestPullRefusesCorruptBlob: a tree blob damaged in the registry's
// storage is refused (its digest does not match) and nothing is imported.
func TestPullRefusesCorruptBlob(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	c := openCache(t, reg.Ref("cache"), Options{})
	a, _ := openStore(t, unlimited)
	id := testID(4)
	commitObject(t, a, id, 5000)
	if _, err := c.Push(ctx, a, id); err != nil {
		t.Fatal(err)
	}
	o, _ := a.Tree(id)
	damage(t, reg.BlobPath("sha256:"+o.SHA256))

	b, dir := openStore(t, unlimited)
	_, err := c.Pull(ctx, b, id)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("pull of a damaged blob: %v, want ErrRefused", err)
	}
	t.Logf("refused: %v", err)
	nothingImported(t, b, dir, id)
}

// damage flips one byte in the middle of path.
func damage(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPullCutOff: the registry stopped in the middle of the tree's
// transfer is an error that is neither a miss nor a refusal, and leaves
// no half-imported object.
func TestPullCutOff(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	id := testID(5)
	a, _ := openStore(t, unlimited)
	commitObject(t, a, id, 2<<20)
	if _, err := openCache(t, reg.Ref("cache"), Options{}).Push(ctx, a, id); err != nil {
		t.Fatal(err)
	}
	proxy := registrytest.NewProxy(t, reg, registrytest.Cut)
	proxy.Match = treeBlob(t, a, id)
	proxy.OnBreak = reg.Stop
	b, dir := openStore(t, unlimited)
	_, err := openCache(t, proxy.Ref("cache"), Options{}).Pull(ctx, b, id)
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrRefused) || !proxy.Broken() {
		t.Fatalf("pull cut off: %v (proxy broke it: %v)", err, proxy.Broken())
	}
	t.Logf("cut off: %v", err)
	nothingImported(t, b, dir, id)
}

// treeBlob matches the GET of object id's tree blob.
func treeBlob(t *testing.T, st *store.Store, id string) func(*http.Request) bool {
	o, err := st.Tree(id)
	if err != nil {
		t.Fatal(err)
	}
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/sha256:"+o.SHA256)
	}
}

// TestPullStalled: a registry that stops sending in the middle of the
// tree is given up after the idle timeout (ErrStalled), nothing imported.
func TestPullStalled(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	id := testID(6)
	a, _ := openStore(t, unlimited)
	commitObject(t, a, id, 1<<20)
	if _, err := openCache(t, reg.Ref("cache"), Options{}).Push(ctx, a, id); err != nil {
		t.Fatal(err)
	}
	proxy := registrytest.NewProxy(t, reg, registrytest.Stall)
	proxy.Match = treeBlob(t, a, id)
	b, dir := openStore(t, unlimited)
	_, err := openCache(t, proxy.Ref("cache"), Options{IdleTimeout: 300 * time.Millisecond}).Pull(ctx, b, id)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("stalled pull: %v, want ErrStalled", err)
	}
	nothingImported(t, b, dir, id)
}

// TestConcurrentPushes: runners pushing the same object at once all
// succeed, and the artifact pulls whole.
func TestConcurrentPushes(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	id, size := testID(7), 1<<20
	const runners = 4
	var wg sync.WaitGroup
	errs := make([]error, runners)
	stores := make([]*store.Store, runners)
	for i := range stores {
		stores[i], _ = openStore(t, unlimited)
		commitObject(t, stores[i], id, size)
	}
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = openCache(t, reg.Ref("cache"), Options{}).Push(ctx, stores[i], id)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%v\nregistry log:\n%s", err, reg.Log())
	}
	b, _ := openStore(t, unlimited)
	if _, err := openCache(t, reg.Ref("cache"), Options{}).Pull(ctx, b, id); err != nil {
		t.Fatal(err)
	}
	checkImported(t, b, id, size)
}

// TestPushRetriesRegistryInFlux: the distribution registry, while another
// push of the same object writes its blob links, may answer a manifest
// PUT with "manifest blob unknown" (the answer below is one it gave in
// TestConcurrentPushes). The push is tried again and succeeds.
func TestPushRetriesRegistryInFlux(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	proxy := registrytest.NewProxy(t, reg, registrytest.Answer)
	proxy.Match = func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
	}
	proxy.Status = http.StatusBadRequest
	proxy.Body = `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"},` +
		`{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:bf79be0c21a100565100d16b31deee78ce5391f66c0774405d484ce38b6076e0"}]}`
	ctx := context.Background()
	a, _ := openStore(t, unlimited)
	commitObject(t, a, testID(8), 4096)
	if _, err := openCache(t, proxy.Ref("cache"), Options{}).Push(ctx, a, testID(8)); err != nil {
		t.Fatal(err)
	}
	if !proxy.Broken() {
		t.Fatal("the proxy never answered for the registry")
	}
	b, _ := openStore(t, unlimited)
	if _, err := openCache(t, reg.Ref("cache"), Options{}).Pull(ctx, b, testID(8)); err != nil {
		t.Fatal(err)
	}
	checkImported(t, b, testID(8), 4096)
}
