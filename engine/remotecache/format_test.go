package remotecache

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden is a fixed object: upstream osbuild's BASIC_PIPELINE tree ID,
// with a made-up tree digest and metadata.
var golden = struct {
	id, sum string
	size    int64
	meta    map[string]json.RawMessage
}{
	id:   "52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301",
	sum:  strings.Repeat("5a", 32),
	size: 10240,
	meta: map[string]json.RawMessage{
		"52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301": json.RawMessage(`{"packages": [{"name": "a"}]}`),
	},
}

// TestArtifactGolden: the artifact's manifest and config are exactly the
// documented format (testdata/, regenerate with -update after a
// deliberate change), and encode is canonical: the same object gives the
// same bytes every time.
func TestArtifactGolden(t *testing.T) {
	a, err := encode(golden.id, golden.sum, golden.size, golden.meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", a.manifest}, {"config.json", a.config}} {
		path := filepath.Join("testdata", f.name)
		if *update {
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.data, want) {
			t.Errorf("%s:\n got %s\nwant %s", f.name, f.data, want)
		}
	}
	again, _ := encode(golden.id, golden.sum, golden.size, golden.meta)
	if !bytes.Equal(a.manifest, again.manifest) || a.manifestDesc.Digest != again.manifestDesc.Digest {
		t.Error("two encodings of one object differ")
	}
	config, tree, err := decodeManifest(golden.id, a.manifest)
	if err != nil || config.Digest != digest.FromBytes(a.config) || tree.Digest.Encoded() != golden.sum {
		t.Fatalf("our own manifest does not decode: %v", err)
	}
	if _, err := decodeConfig(golden.id, a.config, tree); err != nil {
		t.Fatalf("our own config does not decode: %v", err)
	}
}

// TestVerifier: a blob passes only with exactly its descriptor's size and
// digest; an error of the transport passes through unchanged.
func TestVerifier(t *testing.T) {
	data := []byte("the tree archive")
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	cut := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		r       io.Reader
		refused bool
		err     error
	}{
		{"exact", bytes.NewReader(data), false, nil},
		{"short", bytes.NewReader(data[:5]), true, nil},
		{"long", bytes.NewReader(append(append([]byte{}, data...), 'x')), true, nil},
		{"other bytes", bytes.NewReader(bytes.ToUpper(data)), true, nil},
		{"cut", io.MultiReader(bytes.NewReader(data[:5]), &failing{cut}), false, cut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := io.ReadAll(newVerifier(tc.r, desc))
			switch {
			case tc.refused && !errors.Is(err, ErrRefused):
				t.Fatalf("err %v, want ErrRefused", err)
			case !tc.refused && !errors.Is(err, tc.err):
				t.Fatalf("err %v, want %v", err, tc.err)
			case tc.err == nil && !tc.refused && !bytes.Equal(got, data):
				t.Fatalf("passed %q", got)
			case int64(len(got)) > desc.Size:
				t.Fatalf("passed %d bytes, more than the descriptor's %d", len(got), desc.Size)
			}
		})
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// FuzzDecodeArtifact: the manifest and config parsers never panic, and
// what they accept is consistent: our media types, this tree format, the
// asked ID, bounded sizes, a config that names the manifest's tree.
func FuzzDecodeArtifact(f *testing.F) {
	a, _ := encode(golden.id, golden.sum, golden.size, golden.meta)
	f.Add(a.manifest, a.config)
	f.Add([]byte(`{}`), []byte(`{"id":""}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[null]}`), []byte(`{"meta":{"x":1}}`))
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		cd, td, err := decodeManifest(golden.id, manifest)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("manifest error not a refusal: %v", err)
			}
			return
		}
		if cd.MediaType != ConfigMediaType || td.MediaType != TreeMediaType || td.Size > MaxTreeSize ||
			cd.Size > MaxConfigSize || td.Digest.Validate() != nil {
			t.Fatalf("accepted inconsistent manifest %s", manifest)
		}
		c, err := decodeConfig(golden.id, config, td)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("config error not a refusal: %v", err)
			}
			return
		}
		if c.ID != golden.id || c.Tree.SHA256 != td.Digest.Encoded() || c.Tree.Size != td.Size {
			t.Fatalf("accepted inconsistent config %s", config)
		}
	})
}
