// Package meta holds the osbuild-style module metadata (<name>.meta.json,
// with "schema" for v1 and "schema_2" for v2) of every built-in stage and
// assembler, so that the engine can validate manifests that use them
// without a --libdir.
package meta

import "embed"

// FS holds stages/<name>.meta.json and assemblers/<name>.meta.json.
//
//go:embed stages/*.meta.json assemblers/*.meta.json
var FS embed.FS
