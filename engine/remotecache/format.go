package remotecache

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
)

// Media types of the artifact (see the package documentation).
const (
	ArtifactType    = "application/vnd.osbuild-vm.object.v1"
	ConfigMediaType = "application/vnd.osbuild-vm.object.config.v1+json"
	TreeMediaType   = "application/vnd.osbuild-vm.tree.v1.tar"
)

// Annotations on the artifact's manifest.
const (
	AnnotationID     = "org.osbuild-vm.object.id"
	AnnotationFormat = "org.osbuild-vm.tree.format"
)

// Bounds on what a pull reads. Our manifests are under 1 KiB; a config
// holds the stages' metadata (package lists), well under 4 MiB. A tree is
// what a build produced, so it is bounded only loosely.
const (
	MaxManifestSize = 64 << 10
	MaxConfigSize   = 4 << 20
	MaxTreeSize     = 256 << 30
)

// ErrRefused marks an artifact that a pull rejects: not one of ours, of
// another tree format, inconsistent, or a blob that is not what its
// descriptor says (size, digest). The object is then a miss.
var ErrRefused = errors.New("artifact refused")

// objectConfig is the artifact's config blob.
type objectConfig struct {
	ID     string                     `json:"id"`
	Format int                        `json:"format"`
	Tree   treeInfo                   `json:"tree"`
	Meta   map[string]json.RawMessage `json:"meta"`
}

type treeInfo struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// artifact is one object's artifact, encoded: the bytes a push uploads.
type artifact struct {
	config, manifest []byte
	configDesc       ocispec.Descriptor
	treeDesc         ocispec.Descriptor
	manifestDesc     ocispec.Descriptor
}

// encode builds the artifact of object id whose tree.tar has digest sum
// (hex) and size bytes, with its stage metadata. The encoding is
// canonical: the same object gives the same bytes on every machine.
func encode(id, sum string, size int64, meta map[string]json.RawMessage) (*artifact, error) {
	if meta == nil {
		meta = map[string]json.RawMessage{}
	}
	a := &artifact{}
	var err error
	a.config, err = json.Marshal(objectConfig{ID: id, Format: treetar.Version, Tree: treeInfo{SHA256: sum, Size: size}, Meta: meta})
	if err != nil {
		return nil, fmt.Errorf("encode config of %s: %w", id, err)
	}
	a.configDesc = ocispec.Descriptor{MediaType: ConfigMediaType, Digest: digest.FromBytes(a.config), Size: int64(len(a.config))}
	a.treeDesc = ocispec.Descriptor{MediaType: TreeMediaType, Digest: digest.NewDigestFromEncoded(digest.SHA256, sum), Size: size}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       a.configDesc,
		Layers:       []ocispec.Descriptor{a.treeDesc},
		Annotations:  map[string]string{AnnotationID: id, AnnotationFormat: strconv.Itoa(treetar.Version)},
	}
	if a.manifest, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("encode manifest of %s: %w", id, err)
	}
	a.manifestDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(a.manifest),
		Size: int64(len(a.manifest))}
	return a, nil
}

// decodeManifest parses a pulled manifest of object id and returns the
// descriptors of its config and tree, checked: ours, of this tree
// format, naming id, with sizes in bounds.
func decodeManifest(id string, data []byte) (config, tree ocispec.Descriptor, err error) {
	var m ocispec.Manifest
	if err := strictJSON(data, &m); err != nil {
		return config, tree, refusef("manifest: %v", err)
	}
	switch {
	case m.SchemaVersion != 2 || m.MediaType != ocispec.MediaTypeImageManifest:
		return config, tree, refusef("manifest: schema %d, media type %.100q: not an OCI image manifest", m.SchemaVersion, m.MediaType)
	case m.ArtifactType != ArtifactType:
		return config, tree, refusef("artifact type %.100q, want %s", m.ArtifactType, ArtifactType)
	case m.Annotations[AnnotationFormat] != strconv.Itoa(treetar.Version):
		return config, tree, refusef("tree format %.20q, want %d", m.Annotations[AnnotationFormat], treetar.Version)
	case m.Annotations[AnnotationID] != id:
		return config, tree, refusef("artifact of object %.80q under the tag of %s", m.Annotations[AnnotationID], id)
	case len(m.Layers) != 1:
		return config, tree, refusef("%d layers, want the one tree", len(m.Layers))
	}
	config, tree = m.Config, m.Layers[0]
	if err := checkDesc("config", config, ConfigMediaType, MaxConfigSize); err != nil {
		return config, tree, err
	}
	return config, tree, checkDesc("tree", tree, TreeMediaType, MaxTreeSize)
}

// checkDesc checks a blob descriptor before anything is fetched by it.
func checkDesc(what string, d ocispec.Descriptor, mediaType string, limit int64) error {
	if d.MediaType != mediaType {
		return refusef("%s media type %.100q, want %s", what, d.MediaType, mediaType)
	}
	if d.Digest.Algorithm() != digest.SHA256 || d.Digest.Validate() != nil {
		return refusef("%s digest %.100q is not a sha256 digest", what, d.Digest)
	}
	if d.Size < 0 || d.Size > limit {
		return refusef("%s of %d bytes (limit %d)", what, d.Size, limit)
	}
	return nil
}

// decodeConfig parses a pulled config of object id and checks it against
// the tree descriptor of its manifest.
func decodeConfig(id string, data []byte, tree ocispec.Descriptor) (*objectConfig, error) {
	var c objectConfig
	if err := strictJSON(data, &c); err != nil {
		return nil, refusef("config: %v", err)
	}
	switch {
	case c.ID != id:
		return nil, refusef("config of object %.80q under the tag of %s", c.ID, id)
	case c.Format != treetar.Version:
		return nil, refusef("config: tree format %d, want %d", c.Format, treetar.Version)
	case !validSHA256(c.Tree.SHA256) || c.Tree.SHA256 != tree.Digest.Encoded() || c.Tree.Size != tree.Size:
		return nil, refusef("config names tree sha256:%.64s (%d bytes), the manifest %s (%d bytes)",
			c.Tree.SHA256, c.Tree.Size, tree.Digest, tree.Size)
	}
	for k := range c.Meta {
		if store.ValidateID(k) != nil {
			return nil, refusef("config: metadata key %.80q is not a stage ID", k)
		}
	}
	return &c, nil
}

// strictJSON decodes one JSON value, rejecting unknown fields and trailing
// data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func validSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == s
}

func refusef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}
