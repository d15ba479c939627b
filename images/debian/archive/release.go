package archive

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/osbuild-vm/osbuild-vm/formats/deb822"
)

// maxInRelease bounds InRelease (Debian's is about 150 KB).
const maxInRelease = 32 << 20

// dateSkew is how far in the future a Release Date may lie before we call
// the clock or the archive wrong.
const dateSkew = 24 * time.Hour

// Release is the verified content of dists/<suite>/InRelease.
type Release struct {
	Suite, Codename string
	Date            time.Time
	// ValidUntil is zero when the archive sets no expiry.
	ValidUntil    time.Time
	Architectures []string
	Components    []string
	// AcquireByHash means index files can be fetched by digest, which
	// avoids races with a mirror update between InRelease and Packages.
	AcquireByHash bool
	// Files maps paths relative to dists/<suite>/ to their SHA256 entries.
	Files map[string]FileSum
	// Signer is the fingerprint (hex) of the key that signed it.
	Signer string
}

// VerifyInRelease checks a clearsigned InRelease against keyring and
// returns the signed text. Nothing outside the signed block is returned.
func VerifyInRelease(data []byte, keyring openpgp.KeyRing, now time.Time) ([]byte, string, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, "", fmt.Errorf("decode InRelease: no clearsigned message: %w", ErrBadSignature)
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	signer, err := block.VerifySignature(keyring, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("verify InRelease signature: %w: %w", ErrBadSignature, err)
	}
	return block.Plaintext, fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint), nil
}

// ParseRelease parses the signed text of a Release file.
func ParseRelease(text []byte) (*Release, error) {
	ps, err := deb822.ReadAll(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse Release: %w: %w", ErrBadRelease, err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("parse Release: %d paragraphs, want 1: %w", len(ps), ErrBadRelease)
	}
	p := ps[0]
	r := &Release{
		Suite:         p.Value("Suite"),
		Codename:      p.Value("Codename"),
		Architectures: strings.Fields(p.Value("Architectures")),
		Components:    strings.Fields(p.Value("Components")),
		AcquireByHash: p.Value("Acquire-By-Hash") == "yes",
	}
	if err := r.parseDates(p); err != nil {
		return nil, err
	}
	if r.Files, err = parseSums(p.Value("SHA256")); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Release) parseDates(p deb822.Paragraph) error {
	var err error
	if r.Date, err = parseDate(p.Value("Date")); err != nil {
		return fmt.Errorf("parse Release Date: %w: %w", ErrBadRelease, err)
	}
	if v, ok := p.Get("Valid-Until"); ok {
		if r.ValidUntil, err = parseDate(v); err != nil {
			return fmt.Errorf("parse Release Valid-Until: %w: %w", ErrBadRelease, err)
		}
	}
	return nil
}

// parseDate reads the RFC 2822 dates Debian writes ("Sat, 11 Jul 2026
// 10:16:37 UTC"), with or without a numeric zone.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is not RFC 2822", s)
}

// parseSums reads a multi-line "SHA256:" field: "<hex> <size> <path>" lines.
func parseSums(field string) (map[string]FileSum, error) {
	files := map[string]FileSum{}
	for _, line := range strings.Split(field, "\n") {
		parts := strings.Fields(line)
		if len(parts) == 0 {
			continue
		}
		if len(parts) != 3 || !ValidSHA256(parts[0]) {
			return nil, fmt.Errorf("parse Release SHA256 line %q: %w", line, ErrBadRelease)
		}
		size, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("parse Release SHA256 size %q: %w", parts[1], ErrBadRelease)
		}
		files[parts[2]] = FileSum{Size: size, SHA256: parts[0]}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("parse Release: no SHA256 entries: %w", ErrBadRelease)
	}
	return files, nil
}

// Check applies the checks apt applies: the suite is the one asked for,
// the Date is not in the future, and Valid-Until (if any) has not passed.
func (r *Release) Check(suite string, now time.Time) error {
	if r.Suite != suite && r.Codename != suite {
		return fmt.Errorf("check Release: suite %q/codename %q, asked for %q: %w", r.Suite, r.Codename, suite, ErrBadRelease)
	}
	if r.Date.After(now.Add(dateSkew)) {
		return fmt.Errorf("check Release: Date %s is in the future: %w", r.Date, ErrBadRelease)
	}
	if !r.ValidUntil.IsZero() && now.After(r.ValidUntil) {
		return fmt.Errorf("check Release: expired at %s: %w", r.ValidUntil, ErrBadRelease)
	}
	return nil
}

// HasArch says whether the archive publishes arch.
func (r *Release) HasArch(arch string) bool { return slices.Contains(r.Architectures, arch) }

// Release fetches, verifies and checks dists/<suite>/InRelease. The result
// is remembered for the Archive's lifetime.
func (a *Archive) Release(ctx context.Context) (*Release, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.release != nil {
		return a.release, nil
	}
	keyring, err := a.keyring()
	if err != nil {
		return nil, err
	}
	if data, ok := a.Cache.inRelease(a.root(), a.Suite, a.now()); ok {
		if r, err := a.verifyRelease(data, keyring); err == nil {
			a.logf("InRelease of %s: cached copy of %s", a.Suite, r.Date.UTC().Format(time.RFC1123))
			a.release = r
			return r, nil
		}
	}
	data, err := a.fetchBounded(ctx, a.distURL("InRelease"), maxInRelease)
	if err != nil {
		return nil, err
	}
	r, err := a.verifyRelease(data, keyring)
	if err != nil {
		return nil, err
	}
	a.logf("InRelease of %s: fetched, dated %s", a.Suite, r.Date.UTC().Format(time.RFC1123))
	if err := a.Cache.storeInRelease(a.root(), a.Suite, data, a.now()); err != nil {
		a.logf("InRelease of %s: not cached: %v", a.Suite, err)
	}
	a.release = r
	return r, nil
}

func (a *Archive) verifyRelease(data []byte, keyring openpgp.KeyRing) (*Release, error) {
	now := a.now()
	text, signer, err := VerifyInRelease(data, keyring, now)
	if err != nil {
		return nil, err
	}
	r, err := ParseRelease(text)
	if err != nil {
		return nil, err
	}
	r.Signer = signer
	if err := r.Check(a.Suite, now); err != nil {
		return nil, err
	}
	return r, nil
}
