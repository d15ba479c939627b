package pyjson_test

import (
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// Dumps writes what Python's json.dumps writes, so that sha256 over it
// gives osbuild's IDs.
func ExampleDumps() {
	v, err := pyjson.Decode([]byte(`{"b": 1E2, "a": "caf\u00e9 <>&", "c": 18446744073709551616}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	sorted, _ := pyjson.Dumps(v, true)
	fmt.Println(string(sorted))
	// Output: {"a": "caf\u00e9 <>&", "b": 100.0, "c": 18446744073709551616}
}
