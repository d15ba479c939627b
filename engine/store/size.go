package store

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// Unlimited is the cache size limit that never evicts ("unlimited").
const Unlimited int64 = -1

// ErrInvalidSize reports a --cache-max-size value ParseSize does not accept.
var ErrInvalidSize = errors.New("invalid size value")

// sizePattern is osbuild's util/parsing.parse_size grammar: optional leading
// blanks, decimal digits, optional blanks and one unit, or "unlimited".
var sizePattern = regexp.MustCompile(`^[ \t\n\r\f\v]*([0-9]+)(?:[ \t\n\r\f\v]*(kB|KiB|MB|MiB|GB|GiB|TB|TiB))?$`)

var sizeUnits = map[string]int64{
	"":    1,
	"kB":  1000,
	"KiB": 1 << 10,
	"MB":  1000 * 1000,
	"MiB": 1 << 20,
	"GB":  1000 * 1000 * 1000,
	"GiB": 1 << 30,
	"TB":  1000 * 1000 * 1000 * 1000,
	"TiB": 1 << 40,
}

// ParseSize parses a --cache-max-size value the way osbuild does: a number
// of bytes ("1073741824"), a number with one of the units kB, KiB, MB, MiB,
// GB, GiB, TB, TiB (case as written; "20GiB" or "20 GiB"), or "unlimited",
// which returns Unlimited. Values that overflow int64 are rejected.
func ParseSize(s string) (int64, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("parse size %q: %w", s, ErrInvalidSize)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := sizeUnits[m[2]]
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("parse size %q: %w: too large", s, ErrInvalidSize)
	}
	return n * unit, nil
}
