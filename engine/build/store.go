package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/osbuild-vm/osbuild-vm/engine/store"
)

// FromStore adapts the object store to what the builder needs.
func FromStore(s *store.Store) Store { return objectStore{s} }

type objectStore struct{ s *store.Store }

func (o objectStore) TreeArchive(id string) (string, error) {
	obj, err := o.s.Tree(id)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", ErrNotStored, err)
	}
	if err != nil {
		return "", err
	}
	return obj.TreePath(), nil
}

func (o objectStore) Commit(id string, write func(w io.Writer) error, meta map[string]json.RawMessage) error {
	p, err := o.s.NewObject(id)
	if err != nil {
		return err
	}
	if err := p.WriteTree(write); err != nil {
		return errors.Join(err, p.Abort())
	}
	_, err = p.Commit(meta)
	return err
}
