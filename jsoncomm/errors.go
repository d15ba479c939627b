package jsoncomm

import (
	"context"
	"errors"
	"fmt"
)

// Error classes the host branches on. An error crosses the channel as
// {kind, message} and comes back as an *Error that matches the same
// sentinel with errors.Is.
var (
	ErrProtocol    = errors.New("protocol error")
	ErrTooLarge    = errors.New("message too large")
	ErrInvalid     = errors.New("invalid request")
	ErrNotFound    = errors.New("not found")
	ErrPermission  = errors.New("permission denied")
	ErrStageFailed = errors.New("stage failed")
	ErrTimeout     = errors.New("timed out")
	ErrCanceled    = errors.New("canceled")
	ErrUnsupported = errors.New("unsupported")
	ErrInternal    = errors.New("internal error")
	ErrClosed      = errors.New("channel closed")
)

var kinds = []struct {
	kind string
	err  error
}{
	{"protocol", ErrProtocol},
	{"too-large", ErrTooLarge},
	{"invalid", ErrInvalid},
	{"not-found", ErrNotFound},
	{"permission", ErrPermission},
	{"stage-failed", ErrStageFailed},
	{"timeout", ErrTimeout},
	{"canceled", ErrCanceled},
	{"unsupported", ErrUnsupported},
	{"internal", ErrInternal},
}

// Error is an error as it travels across the channel.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel of e's kind, so errors.Is(e, ErrNotFound)
// holds for an error of kind "not-found". An unknown kind maps to
// ErrInternal.
func (e *Error) Unwrap() error {
	for _, k := range kinds {
		if k.kind == e.Kind {
			return k.err
		}
	}
	return ErrInternal
}

// FromError turns any error into its travelling form, classed by the first
// sentinel it wraps; context errors become timeout and canceled.
func FromError(err error) *Error {
	var je *Error
	if errors.As(err, &je) {
		return je
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: "timeout", Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: "canceled", Message: err.Error()}
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return &Error{Kind: k.kind, Message: err.Error()}
		}
	}
	return &Error{Kind: "internal", Message: err.Error()}
}

// Errorf makes an error of the class of sentinel, with a message.
func Errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel)
}
