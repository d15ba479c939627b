package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Objects returns the ids of the objects committed to the cache, sorted,
// as a caller that acts on many of them (pushing a store's objects to a
// remote cache) needs to list them. An entry that is not a committed
// object (no valid id, no info.json) is left out; the list says nothing
// about whether an object is intact, which Tree checks.
func (s *Store) Objects() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "objects"))
	if err != nil {
		return nil, fmt.Errorf("list objects of %s: %w", s.root, err)
	}
	var ids []string
	for _, e := range entries {
		if ValidateID(e.Name()) == nil && s.Cached(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}
