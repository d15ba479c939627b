package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/stages/api"
)

// A symlink in the tree that points at "/" cannot lead a write out of it:
// the tree is the root symlinks are resolved against.
func ExampleRoot_Resolve() {
	tree, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(tree)
	_ = os.Symlink("/", filepath.Join(tree, "etc"))
	host, _ := api.Root(tree).Resolve("/etc/passwd")
	fmt.Println(strings.TrimPrefix(host, tree))
	// Output: /passwd
}
