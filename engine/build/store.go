package build

import (
	"encoding/json"
	"fmt"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// FromStore adapts the object store to what the builder needs.
func FromStore(s *store.Store) Store { return objectStore{s} }

type objectStore struct{ s *store.Store }

func (o objectStore) TreeArchive(id string) (string, bool) {
	obj, ok := o.s.Lookup(id)
	if !ok {
		return "", false
	}
	return obj.TreePath(), true
}

func (o objectStore) Commit(id string, write func(dir string) error, meta map[string]json.RawMessage) error {
	p, err := o.s.NewObject(id)
	if err != nil {
		return err
	}
	if err := write(p.Dir()); err != nil {
		if aerr := p.Abort(); aerr != nil {
			return fmt.Errorf("%w; and %w", err, aerr)
		}
		return err
	}
	_, err = p.Commit(meta)
	return err
}
