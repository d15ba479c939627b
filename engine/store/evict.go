package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// entry is a cached object as eviction sees it.
type entry struct {
	id       string
	size     int64
	lastUsed time.Time
}

// makeRoom evicts least recently used objects that no run is using until
// an object of size fits under the limit, trying to free twice its size as
// osbuild does so that the next commits need no eviction. The caller holds
// evict.lock. It reports whether the object fits.
func (s *Store) makeRoom(size int64) (bool, error) {
	entries, total, err := s.scan()
	if err != nil {
		return false, err
	}
	if total+size <= s.limit {
		return true, nil
	}
	target := max(total+size-s.limit, 2*size)
	freed, err := s.evict(entries, target)
	return total-freed+size <= s.limit, err
}

// trim evicts least recently used objects until the cache is under its
// limit: a limit lowered with --cache-max-size takes effect when the run
// ends, not only at the next commit.
func (s *Store) trim() error {
	if s.limit == Unlimited {
		return nil
	}
	unlock, err := lockEvict(s.root)
	if err != nil {
		return err
	}
	defer unlock()
	entries, total, err := s.scan()
	if err != nil || total <= s.limit {
		return err
	}
	_, err = s.evict(entries, total-s.limit)
	return err
}

// scan lists cached objects, least recently used first, and their total.
func (s *Store) scan() ([]entry, int64, error) {
	dir := filepath.Join(s.root, "objects")
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("scan objects: %w", err)
	}
	var entries []entry
	var total int64
	for _, n := range names {
		e, ok := readEntry(filepath.Join(dir, n.Name()), n.Name())
		if ok {
			entries = append(entries, e)
			total += e.size
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if !entries[i].lastUsed.Equal(entries[j].lastUsed) {
			return entries[i].lastUsed.Before(entries[j].lastUsed)
		}
		return entries[i].id < entries[j].id
	})
	return entries, total, nil
}

// readEntry reads an object's size and last use; anything that is not a
// complete object is skipped.
func readEntry(dir, id string) (entry, bool) {
	if ValidateID(id) != nil {
		return entry{}, false
	}
	data, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return entry{}, false
	}
	var info struct{ Size int64 }
	if json.Unmarshal(data, &info) != nil || info.Size < 0 {
		return entry{}, false
	}
	used, err := lastUsed(filepath.Join(dir, lockName))
	if err != nil {
		return entry{}, false
	}
	return entry{id: id, size: info.Size, lastUsed: used}, true
}

// lastUsed returns the atime of an object's lock file.
func lastUsed(path string) (time.Time, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return time.Time{}, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, errors.New("no stat data")
	}
	return time.Unix(sys.Atim.Sec, sys.Atim.Nsec), nil
}

// evict removes objects in order until target bytes are freed, skipping
// those in use (shared-locked) or used since the scan. It returns the bytes
// freed.
func (s *Store) evict(entries []entry, target int64) (int64, error) {
	var freed int64
	var errs []error
	for _, e := range entries {
		if freed >= target {
			break
		}
		ok, err := s.evictOne(e)
		errs = append(errs, err)
		if ok {
			freed += e.size
		}
	}
	return freed, errors.Join(errs...)
}

// evictOne removes one object unless a run is using it or used it since
// the scan.
func (s *Store) evictOne(e entry) (bool, error) {
	return s.removeObject(e.id, func(lock string) bool {
		used, err := lastUsed(lock)
		return err == nil && used.Equal(e.lastUsed)
	})
}

// removeObject removes cached object id unless a run is using it (holds
// its lock) or still says no under the exclusive lock. The directory is
// first renamed into this run's tmp/ area, so it leaves objects/ at once
// and a crash while deleting leaves only what the next Open cleans up.
// The caller holds evict.lock.
func (s *Store) removeObject(id string, still func(lock string) bool) (bool, error) {
	dir := filepath.Join(s.root, "objects", id)
	lock := filepath.Join(dir, lockName)
	f, err := lockFile(lock, unix.LOCK_EX|unix.LOCK_NB, false)
	if errors.Is(err, errBusy) || errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("evict %s: %w", id, err)
	}
	defer f.Close()
	if !still(lock) {
		return false, nil
	}
	s.mu.Lock() // not nextName: Close trims after it marked the store closed
	s.seq++
	grave := filepath.Join(s.run, fmt.Sprintf("evicted-%d", s.seq))
	s.mu.Unlock()
	if err := os.Rename(dir, grave); err != nil {
		return false, fmt.Errorf("evict %s: %w", id, err)
	}
	if err := os.RemoveAll(grave); err != nil {
		return true, fmt.Errorf("evict %s: %w", id, err)
	}
	return true, nil
}
