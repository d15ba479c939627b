package runner

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// handler adapts a typed method to jsoncomm.Handler, decoding params
// strictly: an unknown key is an invalid request.
func handler[P, R any](fn func(context.Context, P, func(jsoncomm.Log)) (R, error)) jsoncomm.Handler {
	return func(ctx context.Context, raw json.RawMessage, log func(jsoncomm.Log)) (any, error) {
		var p P
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "decode params: %v", err)
		}
		return fn(ctx, p, log)
	}
}
