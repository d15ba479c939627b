package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
)

// ErrInput marks a missing or malformed input.
var ErrInput = errors.New("bad input")

// checksumRe is the shape of a content reference ("sha256:<hex>"); it is
// checked before a reference becomes a file name.
var checksumRe = regexp.MustCompile(`^[a-z0-9]+:[0-9a-f]{32,128}$`)

// FileRef is one file of an org.osbuild.files input.
type FileRef struct {
	// Checksum names the file inside the input directory.
	Checksum string
	// Metadata is the reference's metadata object, as given.
	Metadata json.RawMessage
}

// InputFiles is the "files" object of an input reply, in document order:
// the order of references matters to some stages (deb.extract).
type InputFiles []FileRef

// UnmarshalJSON decodes the object keeping its key order.
func (f *InputFiles) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%w: files must be an object", ErrInput)
	}
	var out InputFiles
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var meta json.RawMessage
		if err := dec.Decode(&meta); err != nil {
			return err
		}
		out = append(out, FileRef{Checksum: tok.(string), Metadata: meta})
	}
	*f = out
	return nil
}

// MarshalJSON encodes the files as an object in their order.
func (f InputFiles) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, ref := range f {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := json.Marshal(ref.Checksum)
		if err != nil {
			return nil, err
		}
		meta := ref.Metadata
		if len(meta) == 0 {
			meta = json.RawMessage("{}")
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(meta)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Files returns the host paths of the files of input name, in the order of
// the references. Every reference must look like a checksum (a source's
// file) or be a clean relative path (a file of a pipeline's tree, which
// osbuild's files input names by its path).
func (a *Arguments) Files(name string) ([]string, error) {
	in, ok := a.Inputs[name]
	if !ok {
		return nil, fmt.Errorf("%w: no input %q", ErrInput, name)
	}
	paths := make([]string, 0, len(in.Data.Files))
	for _, ref := range in.Data.Files {
		if !checksumRe.MatchString(ref.Checksum) && !localPath(ref.Checksum) {
			return nil, fmt.Errorf("%w: input %q: reference %q is neither a checksum nor a path in a tree", ErrInput, name, ref.Checksum)
		}
		paths = append(paths, filepath.Join(in.Path, ref.Checksum))
	}
	return paths, nil
}

// localPath reports whether p is a clean relative path inside its root.
func localPath(p string) bool {
	return p != "" && filepath.IsLocal(p) && filepath.Clean(p) == p
}

// File returns the host path of the one file of input name: stages that
// compress or unpack a single file take exactly one.
func (a *Arguments) File(name string) (string, error) {
	paths, err := a.Files(name)
	if err != nil {
		return "", err
	}
	if len(paths) != 1 {
		return "", fmt.Errorf("%w: input %q has %d files, want 1", ErrInput, name, len(paths))
	}
	return paths[0], nil
}

// TreeInput returns the root of an org.osbuild.tree input.
func (a *Arguments) TreeInput(name string) (Root, error) {
	in, ok := a.Inputs[name]
	if !ok || in.Path == "" {
		return "", fmt.Errorf("%w: no tree input %q", ErrInput, name)
	}
	return Root(in.Path), nil
}
