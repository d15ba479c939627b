package ctxio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, strings.NewReader("abc"))
	if b, err := io.ReadAll(r); err != nil || string(b) != "abc" {
		t.Fatalf("read %q, %v", b, err)
	}
	cancel()
	if _, err := Reader(ctx, strings.NewReader("x")).Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
