package manifest_test

import (
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/manifest"
)

func ExampleLoad() {
	m, err := manifest.Load([]byte(`{"version": "2", "pipelines": [
		{"name": "build", "runner": "org.osbuild.linux", "stages": [{"type": "org.osbuild.noop", "options": {"zero": 0}}]},
		{"name": "tree", "build": "name:build", "stages": [{"type": "org.osbuild.noop", "options": {"one": 1}}]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	tree := m.Pipeline("tree")
	fmt.Println(tree.Build.Name, tree.Runner)
	fmt.Println(tree.ID)
	// Output:
	// build org.osbuild.linux
	// 52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301
}

func ExampleError() {
	_, err := manifest.Load([]byte(`{"version": "2", "pipelines": [{"name": "tree", "build": "name:nope"}]}`))
	fmt.Println(err)
	// Output: manifest .pipelines[0].build: unknown pipeline "nope" (define that pipeline or fix the name)
}
