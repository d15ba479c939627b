package validate_test

import (
	"fmt"
	"os"

	"github.com/osbuild-vm/osbuild-vm/engine/modules"
	"github.com/osbuild-vm/osbuild-vm/engine/validate"
)

func ExampleValidator_Manifest() {
	v := validate.New(modules.NewIndex()) // built-in modules only
	r, err := v.Manifest([]byte(`{"version": "2", "pipelines": [{"name": "os", "stages": [{"type": "org.example.missing"}]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = r.WriteText(os.Stdout, "m.json")
	// Output: m.json: .pipelines[0].stages[0]: unknown stage "org.example.missing": no --libdir and no built-in module provides it
}
