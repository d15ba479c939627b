package fsops

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSize reads a truncate(1) size relative to the current size:
// an optional operator (+ extend, - shrink, < at most, > at least,
// / round down to a multiple, % round up to a multiple) and a number with
// an optional unit (K, M, G, … powers of 1024; KB, MB, … of 1000; KiB
// the same as K).
func ParseSize(s string, current int64) (int64, error) {
	s = strings.TrimSpace(s)
	op := byte(0)
	if s != "" && strings.IndexByte("+-<>/%", s[0]) >= 0 {
		op, s = s[0], strings.TrimSpace(s[1:])
	}
	n, err := parseUnits(s)
	if err != nil {
		return 0, err
	}
	return applySizeOp(op, n, current)
}

func applySizeOp(op byte, n, cur int64) (int64, error) {
	switch op {
	case 0:
		return n, nil
	case '+':
		if cur > math.MaxInt64-n {
			return 0, fmt.Errorf("size: %w: overflow", ErrInvalidValue)
		}
		return cur + n, nil
	case '-':
		return max(cur-n, 0), nil
	case '<':
		return min(cur, n), nil
	case '>':
		return max(cur, n), nil
	}
	if n == 0 {
		return 0, fmt.Errorf("size: %w: division by zero", ErrInvalidValue)
	}
	if op == '/' {
		return cur / n * n, nil
	}
	return (cur + n - 1) / n * n, nil
}

var unitPowers = map[byte]int{'K': 1, 'M': 2, 'G': 3, 'T': 4, 'P': 5, 'E': 6}

func parseUnits(s string) (int64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, ErrInvalidValue)
	}
	mult, err := unitMultiplier(s[i:])
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	if mult != 0 && n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: %w: overflow", s, ErrInvalidValue)
	}
	return n * mult, nil
}

func unitMultiplier(u string) (int64, error) {
	if u == "" {
		return 1, nil
	}
	p, ok := unitPowers[strings.ToUpper(u[:1])[0]]
	if !ok || len(u) > 3 {
		return 0, ErrInvalidValue
	}
	base := int64(1024)
	switch u[1:] {
	case "", "iB":
	case "B":
		base = 1000
	default:
		return 0, ErrInvalidValue
	}
	m := int64(1)
	for range p {
		if m > math.MaxInt64/base {
			return 0, ErrInvalidValue
		}
		m *= base
	}
	return m, nil
}
