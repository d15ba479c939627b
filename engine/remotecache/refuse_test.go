package remotecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/osbuild-vm/osbuild-vm/engine/remotecache/registrytest"
	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// forgery changes an artifact before it is pushed: its config (as a JSON
// object) and its manifest.
type forgery struct {
	name string
	want string // in the refusal, when the reason matters

	config   func(c map[string]any)
	manifest func(m *ocispec.Manifest)
}

// TestPullRefusesForgedArtifacts: every artifact that is not exactly what
// it claims (another type or format, another object's, inconsistent
// digests or sizes, out of bounds) is refused and nothing is imported.
func TestPullRefusesForgedArtifacts(t *testing.T) {
	other := testID(99)
	cases := []forgery{
		{name: "artifact type", manifest: func(m *ocispec.Manifest) { m.ArtifactType = "application/vnd.example.other" }},
		{name: "no artifact type", manifest: func(m *ocispec.Manifest) { m.ArtifactType = "" }},
		{name: "format annotation", manifest: func(m *ocispec.Manifest) { m.Annotations[AnnotationFormat] = "2" }},
		{name: "id annotation", manifest: func(m *ocispec.Manifest) { m.Annotations[AnnotationID] = other }},
		{name: "two layers", manifest: func(m *ocispec.Manifest) { m.Layers = append(m.Layers, m.Layers[0]) }},
		{name: "layer media type", manifest: func(m *ocispec.Manifest) { m.Layers[0].MediaType = ocispec.MediaTypeImageLayer }},
		{name: "config media type", manifest: func(m *ocispec.Manifest) { m.Config.MediaType = ocispec.MediaTypeImageConfig }},
		{name: "tree larger than its blob", manifest: func(m *ocispec.Manifest) { m.Layers[0].Size++ },
			config: func(c map[string]any) { c["tree"].(map[string]any)["size"] = 4097 }},
		{name: "tree smaller than its blob", manifest: func(m *ocispec.Manifest) { m.Layers[0].Size-- },
			config: func(c map[string]any) { c["tree"].(map[string]any)["size"] = 4095 }},
		{name: "tree over the limit", want: "(limit 274877906944)", manifest: func(m *ocispec.Manifest) { m.Layers[0].Size = MaxTreeSize + 1 }},
		{name: "manifest over the limit", want: "(limit 65536)", manifest: func(m *ocispec.Manifest) {
			m.Annotations["padding"] = strings.Repeat("x", MaxManifestSize)
		}},
		{name: "config id", config: func(c map[string]any) { c["id"] = other }},
		{name: "config format", config: func(c map[string]any) { c["format"] = 2 }},
		{name: "config tree digest", config: func(c map[string]any) {
			c["tree"].(map[string]any)["sha256"] = strings.Repeat("ab", 32)
		}},
		{name: "config tree size", config: func(c map[string]any) { c["tree"].(map[string]any)["size"] = 1 }},
		{name: "config metadata key", config: func(c map[string]any) { c["meta"] = map[string]any{"../x": map[string]any{}} }},
		{name: "config unknown field", config: func(c map[string]any) { c["trusted"] = true }},
		{name: "config over the limit", want: "(limit 4194304)", config: func(c map[string]any) {
			c["meta"] = map[string]any{testID(1): strings.Repeat("x", MaxConfigSize)}
		}},
	}
	reg := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	c := openCache(t, reg.Ref("forged"), Options{})
	forger := openCache(t, reg.Ref("forged"), Options{})
	forger.repo.MaxMetadataBytes = 1 << 20 // a forger is not bound by our limits
	a, _ := openStore(t, unlimited)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := testID(100 + i)
			commitObject(t, a, id, 4096)
			pushForged(t, forger, a, id, tc)
			b, dir := openStore(t, unlimited)
			_, err := c.Pull(ctx, b, id)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pull: %v, want ErrRefused %s", err, tc.want)
			}
			t.Logf("refused: %.300v", err)
			nothingImported(t, b, dir, id)
		})
	}
}

// pushForged pushes object id of st as its artifact, changed by f.
func pushForged(t *testing.T, c *Cache, st *store.Store, id string, f forgery) {
	t.Helper()
	ctx := context.Background()
	o, err := st.Tree(id)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := o.Meta()
	tree, err := os.ReadFile(o.TreePath())
	if err != nil {
		t.Fatal(err)
	}
	a, err := encode(id, o.SHA256, int64(len(tree)), meta)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	var m ocispec.Manifest
	if json.Unmarshal(a.config, &cfg) != nil || json.Unmarshal(a.manifest, &m) != nil {
		t.Fatal("our own artifact does not decode")
	}
	if f.config != nil {
		f.config(cfg)
	}
	config, _ := json.Marshal(cfg)
	m.Config.Digest, m.Config.Size = digest.FromBytes(config), int64(len(config))
	if f.manifest != nil {
		f.manifest(&m)
	}
	manifest, _ := json.Marshal(m)
	blobs := []struct {
		desc ocispec.Descriptor
		data []byte
	}{{a.treeDesc, tree}, {ocispec.Descriptor{MediaType: ConfigMediaType, Digest: digest.FromBytes(config), Size: int64(len(config))}, config}}
	for _, b := range blobs {
		if err := c.repo.Blobs().Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil && !strings.Contains(err.Error(), "exist") {
			t.Fatalf("push blob: %v", err)
		}
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
	if err := c.repo.PushReference(ctx, desc, bytes.NewReader(manifest), id); err != nil {
		t.Fatalf("push forged manifest: %v", err)
	}
}
