package api

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrUnsupportedLocation marks a location URL this stage cannot reach.
var ErrUnsupportedLocation = errors.New("unsupported location")

// Location is a parsed osbuild location URL such as tree:///etc/hosts,
// input://name/sha256:…/sub or mount://root/boot.
type Location struct {
	// Root is the directory the path is inside (the tree, an input, a mount).
	Root Root
	// Path is the cleaned absolute path inside Root.
	Path string
	// Contents is set when the URL ended with "/": rsync's convention for
	// "the contents of this directory", not the directory itself.
	Contents bool
}

// Location parses a location URL the way upstream's parsing.parse_location
// does. A string without "://" is a path in the tree.
func (a *Arguments) Location(url string) (Location, error) {
	if !strings.Contains(url, "://") {
		url = "tree://" + url
	}
	scheme, rest, _ := strings.Cut(url, "://")
	name, p, found := strings.Cut(rest, "/")
	if !found || p == "" && !strings.HasSuffix(rest, "/") {
		return Location{}, fmt.Errorf("location %s: path must start with /", url)
	}
	root, err := a.locationRoot(scheme, name)
	if err != nil {
		return Location{}, fmt.Errorf("location %s: %w", url, err)
	}
	return Location{
		Root:     root,
		Path:     path.Clean("/" + p),
		Contents: strings.HasSuffix(p, "/") || p == "",
	}, nil
}

func (a *Arguments) locationRoot(scheme, name string) (Root, error) {
	switch scheme {
	case "tree":
		if name != "" {
			return "", fmt.Errorf("%w: tree:// takes no name, got %q", ErrUnsupportedLocation, name)
		}
		return Root(a.Tree), nil
	case "input":
		in, ok := a.Inputs[name]
		if !ok {
			return "", fmt.Errorf("%w: unknown input %q", ErrUnsupportedLocation, name)
		}
		return Root(in.Path), nil
	case "mount":
		if name == "" {
			return Root(a.Paths.Mounts), nil
		}
		m, ok := a.Mounts[name]
		if !ok {
			return "", fmt.Errorf("%w: unknown mount %q", ErrUnsupportedLocation, name)
		}
		return Root(m.Path), nil
	}
	return "", fmt.Errorf("%w: scheme %q", ErrUnsupportedLocation, scheme)
}

// Resolve is Root.Resolve of the location's path.
func (l Location) Resolve() (string, error) { return l.Root.Resolve(l.Path) }

// ResolveParent is Root.ResolveParent of the location's path.
func (l Location) ResolveParent() (string, error) { return l.Root.ResolveParent(l.Path) }
