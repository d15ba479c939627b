package build

import (
	"encoding/json"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

// TestFilesDataKeepsReferenceOrder: the files input's reply lists the
// references in manifest order (install stages go by it), not sorted.
func TestFilesDataKeepsReferenceOrder(t *testing.T) {
	refs := []manifest.Reference{
		{ID: "sha256:ff", Options: json.RawMessage(`{"metadata":{"deb.auto":true}}`)},
		{ID: "sha256:00", Options: json.RawMessage(`{}`)},
		{ID: "sha256:77"},
	}
	got := string(filesData(refs))
	want := `{"files":{"sha256:ff":{"deb.auto":true},"sha256:00":{},"sha256:77":{}}}`
	if got != want {
		t.Errorf("filesData = %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Error("not valid JSON")
	}
}
