package api

import (
	"encoding/json"
	"fmt"
	"os"
)

// DefaultMetaPath is where a stage writes its metadata when the arguments
// name no other place.
const DefaultMetaPath = "/run/osbuild/meta"

// WriteMetadata stores v as the stage's metadata object; the agent reads it
// after the stage exits.
func (a *Arguments) WriteMetadata(v any) error {
	path := a.Paths.Meta
	if path == "" {
		path = DefaultMetaPath
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}
