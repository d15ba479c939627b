package mpp

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/depsolve"
)

// stubResolver answers every request with the same two packages.
type stubResolver struct{}

func (stubResolver) Resolve(context.Context, *Request, string) (*depsolve.Result, error) {
	return &depsolve.Result{Packages: []*archive.Package{
		{Package: "a", SHA256: strings.Repeat("a", 64), URL: "http://mirror.invalid/pool/a.deb"},
		{Package: "b", SHA256: strings.Repeat("b", 64), URL: "http://mirror.invalid/pool/b.deb"},
	}}, nil
}

func (stubResolver) MirrorURL(context.Context) (string, error) {
	return "http://mirror.invalid/debian", nil
}

// FuzzPin checks that the pre-processor never panics, fails only with a
// request error, and that what it writes is JSON without directives that
// pins to itself.
func FuzzPin(f *testing.F) {
	f.Add(`{"version": "2", "pipelines": [{"name": "a", "stages": [{"type": "t", "inputs": {"p": {"type": "org.osbuild.files",
		"origin": "org.osbuild.source", "mpp-depsolve-deb": {"suite": "trixie", "packages": ["x"]}}}}]}], "sources": {"org.osbuild.curl": {"urls": {}}}}`)
	f.Add(`{"version": "2", "pipelines": [], "sources": []}`)
	f.Add(`{"mpp-depsolve-deb": 1}`)
	f.Fuzz(func(t *testing.T, in string) {
		out, reqs, err := Pin(context.Background(), []byte(in), "arm64", stubResolver{})
		if err != nil {
			if !IsRequestError(err) {
				t.Fatalf("error that is not a request error: %v", err)
			}
			return
		}
		if len(reqs) == 0 {
			if !bytes.Equal(out, []byte(in)) {
				t.Fatal("a manifest without directives changed")
			}
			return
		}
		doc, err := pyjson.Decode(out)
		if err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if p, found := firstDirective(doc, nil); found {
			t.Fatalf("directive left at %s", p)
		}
		again, reqs, err := Pin(context.Background(), out, "arm64", stubResolver{})
		if err != nil || len(reqs) != 0 || !bytes.Equal(again, out) {
			t.Fatalf("pinning the output again: %d requests, %v", len(reqs), err)
		}
	})
}
