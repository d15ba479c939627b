package guestbin_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/osbuild-vm/osbuild-vm/host/guestbin"
)

// The arm64 guest binary, embedded by make or built from source.
func ExampleBinary() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := guestbin.Binary(ctx, "arm64")
	if err != nil {
		log.Fatal(err) // "... run make to embed it" when neither works
	}
	fmt.Printf("%q\n", bin[:4])
	// Output: "\x7fELF"
}
