package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Source types this package implements, and the content type (store
// directory) their items go to.
const (
	TypeCurl   = "org.osbuild.curl"
	TypeInline = "org.osbuild.inline"
	TypeFiles  = "org.osbuild.files" // v1 manifests
	// FilesDir is the content type under <store>/sources/ holding the
	// items of all three.
	FilesDir = "org.osbuild.files"
)

// ErrUnknownSource reports a source type this package does not implement.
var ErrUnknownSource = errors.New("unknown source type")

// ErrInvalidItem reports a source item whose form is not osbuild's.
var ErrInvalidItem = errors.New("invalid source item")

// item is one thing to fetch: from a URL or from inline data.
type item struct {
	typ      string // source type, for results
	sum      Checksum
	url      string
	insecure bool
	secrets  string // secrets provider name, "" for none
	encoding string // inline only
	data     string // inline only
}

// parseSources turns the manifest's "sources" object (type -> raw options)
// into items, ordered by type then checksum so that results are stable.
func parseSources(srcs map[string]json.RawMessage) ([]item, error) {
	types := make([]string, 0, len(srcs))
	for t := range srcs {
		types = append(types, t)
	}
	sort.Strings(types)
	var all []item
	var errs []error
	for _, t := range types {
		items, err := parseSource(t, srcs[t])
		errs = append(errs, err)
		all = append(all, items...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].typ != all[j].typ {
			return all[i].typ < all[j].typ
		}
		return all[i].sum.String() < all[j].sum.String()
	})
	return all, errors.Join(errs...)
}

// parseSource parses one source type's options.
func parseSource(typ string, raw json.RawMessage) ([]item, error) {
	switch typ {
	case TypeCurl, TypeFiles:
		return parseURLSource(typ, raw)
	case TypeInline:
		return parseInline(raw)
	}
	return nil, fmt.Errorf("source %q: %w; this build knows %s, %s and %s",
		typ, ErrUnknownSource, TypeCurl, TypeInline, TypeFiles)
}

// strictDecode decodes JSON rejecting unknown fields, as osbuild's schemas
// (additionalProperties: false) do.
func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// parseURLSource parses org.osbuild.curl ({"items"|"urls": {checksum: URL
// or {"url", "insecure", "secrets"}}, "options"}) and v1 org.osbuild.files
// ({"urls": ...}).
func parseURLSource(typ string, raw json.RawMessage) ([]item, error) {
	var opts struct {
		Items   map[string]json.RawMessage `json:"items"`
		URLs    map[string]json.RawMessage `json:"urls"`
		Options json.RawMessage            `json:"options"`
	}
	if err := strictDecode(raw, &opts); err != nil {
		return nil, fmt.Errorf("source %s: %w: %w", typ, ErrInvalidItem, err)
	}
	if (opts.Items == nil) == (opts.URLs == nil) {
		return nil, fmt.Errorf("source %s: %w: want exactly one of \"items\" and \"urls\"", typ, ErrInvalidItem)
	}
	entries := opts.Items
	if entries == nil {
		entries = opts.URLs
	}
	var items []item
	var errs []error
	for sum, desc := range entries {
		it, err := parseURLItem(typ, sum, desc)
		errs = append(errs, err)
		if err == nil {
			items = append(items, it)
		}
	}
	return items, errors.Join(errs...)
}

// parseURLItem parses one curl item: a URL string or an object.
func parseURLItem(typ, sum string, desc json.RawMessage) (item, error) {
	c, err := ParseChecksum(sum)
	if err != nil {
		return item{}, fmt.Errorf("source %s: %w", typ, err)
	}
	it := item{typ: typ, sum: c}
	if json.Unmarshal(desc, &it.url) == nil {
		return it, nil
	}
	var obj struct {
		URL      *string `json:"url"`
		Insecure bool    `json:"insecure"`
		Secrets  *struct {
			Name string `json:"name"`
		} `json:"secrets"`
	}
	if err := strictDecode(desc, &obj); err != nil || obj.URL == nil {
		return item{}, fmt.Errorf("source %s item %s: %w: want a URL or {\"url\": ...}", typ, sum, ErrInvalidItem)
	}
	it.url, it.insecure = *obj.URL, obj.Insecure
	if obj.Secrets != nil {
		it.secrets = obj.Secrets.Name
	}
	return it, nil
}

// parseInline parses org.osbuild.inline: {"items": {checksum: {"encoding":
// "base64"|"lzma+base64", "data": ...}}}.
func parseInline(raw json.RawMessage) ([]item, error) {
	var opts struct {
		Items map[string]struct {
			Encoding *string `json:"encoding"`
			Data     *string `json:"data"`
		} `json:"items"`
	}
	if err := strictDecode(raw, &opts); err != nil || opts.Items == nil {
		return nil, fmt.Errorf("source %s: %w: want {\"items\": {checksum: {\"encoding\", \"data\"}}}", TypeInline, ErrInvalidItem)
	}
	var items []item
	var errs []error
	for sum, d := range opts.Items {
		c, err := ParseChecksum(sum)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("source %s: %w", TypeInline, err))
		case d.Encoding == nil || d.Data == nil || (*d.Encoding != "base64" && *d.Encoding != "lzma+base64"):
			errs = append(errs, fmt.Errorf("source %s item %s: %w: want encoding base64 or lzma+base64 and data", TypeInline, sum, ErrInvalidItem))
		default:
			items = append(items, item{typ: TypeInline, sum: c, encoding: *d.Encoding, data: *d.Data})
		}
	}
	return items, errors.Join(errs...)
}
