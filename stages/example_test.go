package stages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/stages"
	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// A stage is a function of its arguments: tests and tools can run one on
// any directory, without a VM.
func ExampleLookup() {
	tree, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(tree)
	stage, ok := stages.Lookup("org.osbuild.hostname")
	if !ok {
		return
	}
	args := &api.Arguments{Tree: tree, Options: json.RawMessage(`{"hostname": "builder"}`)}
	if err := stage(context.Background(), args); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(filepath.Join(tree, "etc/hostname"))
	fmt.Printf("%q\n", data)
	// Output: "builder\n"
}
