package store_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "store-example-")
	defer os.RemoveAll(dir)

	limit, _ := store.ParseSize("20GiB") // --cache-max-size 20GiB
	s, err := store.Open(dir, store.Options{MaxSize: &limit})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	id := "52ae4ffe396a55b6b89134c9f91c1c69dd56d51e56b15d2ad19ecd0645b38301"
	p, _ := s.NewObject(id)
	// the build VM's archive, copied from its share and hashed on the way
	p.WriteTree(func(w io.Writer) error { _, err := w.Write(make([]byte, 1024)); return err })
	obj, err := p.Commit(map[string]json.RawMessage{"stage-id": json.RawMessage(`{"packages":[]}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, found := s.Lookup(id)
	_, err = s.Tree(id) // checks tree.tar against its digest before use
	fmt.Println(obj.ID == id, found, s.Cached(id), err)
	// Output: true true true <nil>
}
