package runner

import (
	"errors"
	"fmt"
	"sync"

	"github.com/osbuild-vm/osbuild-vm/guest/runner/sandbox"
	"github.com/osbuild-vm/osbuild-vm/jsoncomm"
)

// ErrBusy marks a tree another call is using in a conflicting way (a stage
// writing it while it is saved, say). It travels as an invalid request.
var ErrBusy = errors.New("tree busy")

// treeState counts a tree's users: any number of readers or one writer.
type treeState struct {
	readers int
	writer  bool
}

// registry knows the open trees and who uses them.
type registry struct {
	mu    sync.Mutex
	trees map[string]*treeState
}

// validTreeName checks a host-chosen tree name: [A-Za-z0-9._-]{1,128},
// never "." or "..".
func validTreeName(name string) error {
	ok := len(name) <= 128 && sandbox.Component(name)
	for _, c := range []byte(name) {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return jsoncomm.Errorf(jsoncomm.ErrInvalid, "tree name %q", name)
	}
	return nil
}

// create registers a new tree, held for writing until release.
func (r *registry) create(name string) (release func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trees[name] != nil {
		return nil, jsoncomm.Errorf(jsoncomm.ErrInvalid, "tree %s already open", name)
	}
	st := &treeState{writer: true}
	r.trees[name] = st
	return func() { r.release(st, true) }, nil
}

// acquire takes name for reading or writing.
func (r *registry) acquire(name string, write bool) (release func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.trees[name]
	if st == nil {
		return nil, fmt.Errorf("tree %s: %w", name, jsoncomm.ErrNotFound)
	}
	if st.writer || write && st.readers > 0 {
		return nil, fmt.Errorf("tree %s: %w: %w", name, ErrBusy, jsoncomm.ErrInvalid)
	}
	if write {
		st.writer = true
	} else {
		st.readers++
	}
	return func() { r.release(st, write) }, nil
}

func (r *registry) release(st *treeState, write bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if write {
		st.writer = false
	} else {
		st.readers--
	}
}

// remove forgets name; the caller holds it for writing.
func (r *registry) remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.trees, name)
}

// acquireAll takes several trees at once, or none of them.
func (r *registry) acquireAll(write map[string]bool) (release func(), err error) {
	var held []func()
	release = func() {
		for _, h := range held {
			h()
		}
	}
	for name, w := range write {
		h, err := r.acquire(name, w)
		if err != nil {
			release()
			return nil, err
		}
		held = append(held, h)
	}
	return release, nil
}
