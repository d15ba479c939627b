// Package mpp is the manifest pre-processor for Debian package requests,
// the counterpart of osbuild-mpp's mpp-depsolve for RPM. A stage input may
// carry, instead of references, an unresolved request:
//
//	"inputs": {"packages": {"type": "org.osbuild.files", "origin": "org.osbuild.source",
//	  "mpp-depsolve-deb": {"suite": "trixie", "components": ["main"], "variant": "minbase",
//	                       "packages": ["systemd"], "exclude": [], "architecture": "arm64"}}}
//
// Pin resolves every such directive (package depsolve) and writes the
// manifest back with the directive replaced by "references": the .debs'
// "sha256:<hex>" checksums in install order, and one org.osbuild.curl
// source item per .deb naming its URL on the mirror. Everything else keeps
// its meaning and its key order, so the pinned manifest rebuilds exactly
// what was resolved.
package mpp

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
	"github.com/osbuild-vm/osbuild-vm/images/debian/archive"
	"github.com/osbuild-vm/osbuild-vm/images/debian/depsolve"
)

// Directive is the key of an unresolved package request in a stage input.
const Directive = "mpp-depsolve-deb"

// ErrBadDirective: a directive is malformed or in the wrong place.
var ErrBadDirective = errors.New("bad " + Directive + " directive")

// Request is one directive, checked.
type Request struct {
	// Path is where the directive is, in osbuild's JSON path notation.
	Path       string
	Suite      string
	Components []string
	depsolve.Request
	// Architecture is "" when the directive leaves it to the command line.
	Architecture string
}

// suiteName is a codename or suite ("trixie", "stable"), never a path.
var suiteName = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*$`)

// parseDirective reads a directive's object strictly: known keys only, of
// the right types.
func parseDirective(path string, v any) (*Request, error) {
	obj, ok := v.(*pyjson.Object)
	if !ok {
		return nil, badf(path, "must be an object")
	}
	r := &Request{Path: path, Components: []string{"main"}}
	for _, k := range obj.Keys() {
		val, _ := obj.Get(k)
		if err := r.set(k, val); err != nil {
			return nil, badf(path+"."+k, "%v", err)
		}
	}
	return r, r.check()
}

// set stores one key of the directive.
func (r *Request) set(key string, v any) error {
	var err error
	switch key {
	case "suite":
		r.Suite, err = stringValue(v)
	case "components":
		r.Components, err = stringList(v)
	case "variant":
		var s string
		s, err = stringValue(v)
		r.Variant = depsolve.Variant(s)
	case "packages":
		r.Packages, err = stringList(v)
	case "exclude":
		r.Exclude, err = stringList(v)
	case "architecture":
		r.Architecture, err = stringValue(v)
	default:
		return fmt.Errorf("unknown key; use suite, components, variant, packages, exclude or architecture")
	}
	return err
}

// check applies the rules that span keys.
func (r *Request) check() error {
	switch {
	case !suiteName.MatchString(r.Suite):
		return badf(r.Path+".suite", "%q is not a suite name (give one, such as \"trixie\")", r.Suite)
	case len(r.Components) == 0:
		return badf(r.Path+".components", "empty; leave it out for [\"main\"]")
	case r.Architecture != "" && !archive.ValidPackageName(r.Architecture):
		return badf(r.Path+".architecture", "%q is not an architecture name", r.Architecture)
	case !slices.Contains([]depsolve.Variant{"", depsolve.VariantNone, depsolve.VariantEssential, depsolve.VariantMinbase}, r.Variant):
		return badf(r.Path+".variant", "%q; use minbase, essential or none", r.Variant)
	case (r.Variant == "" || r.Variant == depsolve.VariantNone) && len(r.Packages) == 0:
		return badf(r.Path, "asks for nothing: give packages or a variant")
	}
	for _, c := range r.Components {
		if !suiteName.MatchString(c) {
			return badf(r.Path+".components", "%q is not a component name", c)
		}
	}
	for _, k := range []struct {
		key  string
		list []string
	}{{"packages", r.Packages}, {"exclude", r.Exclude}} {
		if _, err := forArch(k.list, "amd64"); err != nil {
			return badf(r.Path+"."+k.key, "%v", err)
		}
	}
	return nil
}

// ForArch is the request as it stands for arch: each entry of packages and
// exclude may end in an architecture restriction as in Build-Depends,
// "grub-pc-bin [amd64]" or "foo [!arm64 !armhf]", so that one manifest
// serves several architectures; an entry whose restriction excludes arch
// is left out.
func (r *Request) ForArch(arch string) (depsolve.Request, error) {
	out := r.Request
	var err error
	if out.Packages, err = forArch(r.Packages, arch); err != nil {
		return out, badf(r.Path+".packages", "%v", err)
	}
	if out.Exclude, err = forArch(r.Exclude, arch); err != nil {
		return out, badf(r.Path+".exclude", "%v", err)
	}
	return out, nil
}

// archRestriction is "name [arch ...]" with every arch negated or none.
var archRestriction = regexp.MustCompile(`^([^\s\[\]]+)\s*\[\s*([^\[\]]*?)\s*\]$`)

func forArch(list []string, arch string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, e := range list {
		if !strings.Contains(e, "[") {
			out = append(out, e)
			continue
		}
		m := archRestriction.FindStringSubmatch(e)
		if m == nil || m[2] == "" {
			return nil, fmt.Errorf("%q: an architecture restriction is \"name [arch ...]\" or \"name [!arch ...]\"", e)
		}
		archs := strings.Fields(m[2])
		neg := strings.HasPrefix(archs[0], "!")
		match := false
		for _, a := range archs {
			if strings.HasPrefix(a, "!") != neg {
				return nil, fmt.Errorf("%q: negated and plain architectures mixed in one restriction", e)
			}
			a = strings.TrimPrefix(a, "!")
			if !archive.ValidPackageName(a) {
				return nil, fmt.Errorf("%q: %q is not an architecture name", e, a)
			}
			match = match || a == arch
		}
		if match != neg {
			out = append(out, m[1])
		}
	}
	return out, nil
}

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errors.New("must be a string")
	}
	return s, nil
}

func stringList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("must be an array of strings")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("must be an array of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

func badf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", path, ErrBadDirective, fmt.Sprintf(format, args...))
}

// jkey appends an object key to a JSON path, quoting it as osbuild does
// when it holds a space.
func jkey(path, key string) string {
	if strings.Contains(key, " ") {
		key = "'" + key + "'"
	}
	return path + "." + key
}
