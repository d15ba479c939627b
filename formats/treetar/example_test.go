package treetar_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/osbuild-vm/osbuild-vm/formats/treetar"
)

// A tree goes out with Pack and comes back with Unpack.
func Example() {
	src, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(src)
	os.MkdirAll(filepath.Join(src, "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "etc/hostname"), []byte("build\n"), 0o644)

	var archive bytes.Buffer
	st, err := treetar.Pack(context.Background(), src, &archive)
	fmt.Println(st.Files, st.Bytes, err)

	tr := tar.NewReader(bytes.NewReader(archive.Bytes()))
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		fmt.Println(h.Name)
	}

	dst, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(dst)
	st, err = treetar.Unpack(context.Background(), &archive, dst, treetar.Options{})
	data, _ := os.ReadFile(filepath.Join(dst, "etc/hostname"))
	fmt.Printf("%d %d %v %q\n", st.Files, st.Bytes, err, data)
	// Output:
	// 2 6 <nil>
	// ./
	// ./etc/
	// ./etc/hostname
	// 2 6 <nil> "build\n"
}
