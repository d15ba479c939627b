// Package meta holds the osbuild-style module metadata (<name>.meta.json,
// with "schema" for v1 and "schema_2" for v2) of every built-in stage,
// assembler, device and mount, so that the engine can validate manifests
// that use them without a --libdir.
package meta

import "embed"

// FS holds <kind>/<name>.meta.json for stages, assemblers, devices and
// mounts.
//
//go:embed stages/*.meta.json assemblers/*.meta.json devices/*.meta.json mounts/*.meta.json
var FS embed.FS
