package store

import (
	"errors"
	"fmt"
)

// ErrInvalidID reports an object id that is not 64 lowercase hex digits.
// IDs become directory names, so nothing else may pass.
var ErrInvalidID = errors.New("invalid object id")

// ValidateID checks that id is a content ID as osbuild computes them: a
// sha256 in 64 lowercase hex digits.
func ValidateID(id string) error {
	if len(id) != 64 {
		return fmt.Errorf("object id %.80q: %w: want 64 hex digits, got %d characters", id, ErrInvalidID, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("object id %q: %w: character %q at %d", id, ErrInvalidID, c, i)
		}
	}
	return nil
}
