package archive_test

import (
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
)

// The mirror comes from the flag, the environment, or apt's configuration,
// never from the project itself.
func ExampleMirrorSource_Resolve() {
	src := archive.MirrorSource{Root: "testdata/apt/deb822", Getenv: func(string) string { return "" }}
	m, err := src.Resolve("")
	fmt.Println(m, err)
	m, err = src.Resolve("https://flag.invalid/debian/")
	fmt.Println(m, err)
	// Output:
	// http://mirror.invalid/debian <nil>
	// https://flag.invalid/debian <nil>
}
