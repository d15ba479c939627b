package api

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ObjectKeys returns the keys of a JSON object in document order. Go maps
// forget it, but osbuild stages walk option objects in that order (users
// get ids in the order they are listed), and so must ours.
func ObjectKeys(raw json.RawMessage) ([]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: want an object", ErrInvalidArguments)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArguments, err)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArguments, err)
		}
		keys = append(keys, tok.(string))
	}
	return keys, nil
}
