package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// cacheInfo is cache.json, the store's recorded configuration, shaped like
// osbuild's cache.info: "maximum-size" is bytes or "unlimited", absent when
// never set (which means 0: cache nothing).
type cacheInfo struct {
	MaximumSize json.RawMessage `json:"maximum-size,omitempty"`
}

// ErrBadCacheInfo reports a cache.json that cannot be understood.
var ErrBadCacheInfo = errors.New("bad cache.json")

// loadLimit returns the limit in force: want if set (and then recorded in
// cache.json under evict.lock), else the one recorded, else 0.
func loadLimit(root string, want *int64) (int64, error) {
	if want != nil && *want < 0 && *want != Unlimited {
		return 0, fmt.Errorf("cache size %d: %w", *want, ErrInvalidSize)
	}
	unlock, err := lockEvict(root)
	if err != nil {
		return 0, err
	}
	defer unlock()
	path := filepath.Join(root, "cache.json")
	if want != nil {
		return *want, writeFileSync(path, encodeLimit(*want))
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return decodeLimit(data)
}

func encodeLimit(n int64) []byte {
	if n == Unlimited {
		return []byte(`{"maximum-size":"unlimited"}` + "\n")
	}
	return fmt.Appendf(nil, `{"maximum-size":%d}`+"\n", n)
}

// decodeLimit reads cache.json's maximum-size.
func decodeLimit(data []byte) (int64, error) {
	var info cacheInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadCacheInfo, err)
	}
	if len(info.MaximumSize) == 0 || string(info.MaximumSize) == "null" {
		return 0, nil
	}
	if string(info.MaximumSize) == `"unlimited"` {
		return Unlimited, nil
	}
	var n int64
	if err := json.Unmarshal(info.MaximumSize, &n); err != nil || n < 0 {
		return 0, fmt.Errorf("%w: maximum-size %s", ErrBadCacheInfo, info.MaximumSize)
	}
	return n, nil
}

// lockEvict takes evict.lock exclusively: the section that reads sizes,
// evicts and commits, or rewrites cache.json, runs in one process at a time.
func lockEvict(root string) (func(), error) {
	f, err := lockFile(filepath.Join(root, "evict.lock"), unix.LOCK_EX, true)
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	return func() { f.Close() }, nil
}
