package sandbox

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

func goodSpec() Spec {
	return Spec{
		Mountpoint: "/w/calls/1/root", Staging: "/w/calls/1/staging", API: "/w/calls/1/api",
		Meta: "/w/calls/1/meta", Tree: "/w/trees/t", Executable: "/init",
		Bin: "/run/osbuild/bin/org.osbuild.noop", Env: []string{"PATH=/usr/bin"},
		Inputs: []Input{{Name: "files", Source: "/shares/sources", Files: []string{"sha256:ab"}}},
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Spec)
		ok     bool
	}{
		{"good", func(*Spec) {}, true},
		{"relative tree", func(s *Spec) { s.Tree = "w/trees/t" }, false},
		{"unclean tree", func(s *Spec) { s.Tree = "/w/trees/../t" }, false},
		{"bin outside", func(s *Spec) { s.Bin = "/usr/bin/sh" }, false},
		{"bin prefix only", func(s *Spec) { s.Bin = "/run/osbuild/binx" }, false},
		{"relative root", func(s *Spec) { s.Root = "build" }, false},
		{"input dotdot", func(s *Spec) { s.Inputs[0].Name = ".." }, false},
		{"input slash", func(s *Spec) { s.Inputs[0].Name = "a/b" }, false},
		{"file slash", func(s *Spec) { s.Inputs[0].Files = []string{"../../etc/shadow"} }, false},
		{"file dot", func(s *Spec) { s.Inputs[0].Files = []string{"."} }, false},
		{"file nul", func(s *Spec) { s.Inputs[0].Files = []string{"a\x00b"} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSpec()
			s.Inputs = append([]Input(nil), s.Inputs...)
			tc.mutate(&s)
			data, _ := json.Marshal(s)
			_, err := decodeSpec(data)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, jsoncomm.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestSetupErrors(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := setup([]byte(`{"bin": 1}`), nil, nil, false); !errors.Is(err, jsoncomm.ErrInvalid) {
		t.Fatalf("setup with a bad spec: %v", err)
	}
	if _, err := setup(nil, os.ErrClosed, nil, false); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("setup after a read error: %v", err)
	}
	if _, err := readBounded(strings.NewReader("12345"), 4); !errors.Is(err, jsoncomm.ErrTooLarge) {
		t.Fatalf("read over the limit: %v", err)
	}
	if data, err := readBounded(strings.NewReader("1234"), 4); err != nil || string(data) != "1234" {
		t.Fatalf("read at the limit: %q %v", data, err)
	}
	report(w, jsoncomm.Errorf(jsoncomm.ErrNotFound, "no such thing"))
	var je jsoncomm.Error
	if err := json.NewDecoder(r).Decode(&je); err != nil || je.Kind != "not-found" {
		t.Fatalf("report = %+v, %v", je, err)
	}
}

func FuzzDecodeSpec(f *testing.F) {
	good, _ := json.Marshal(goodSpec())
	f.Add(good)
	f.Add([]byte(`{"bin": "/run/osbuild/bin/"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSpec(data)
		if err != nil {
			return
		}
		if s.validate() != nil {
			t.Fatal("decodeSpec accepted an invalid spec")
		}
		for _, in := range s.Inputs {
			if !Component(in.Name) {
				t.Fatalf("input name %q accepted", in.Name)
			}
		}
	})
}
