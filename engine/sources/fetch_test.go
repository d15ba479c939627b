package sources

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func sum256(data []byte) string {
	h := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(h[:])
}

// server serves content by path and counts hits per path. Paths starting
// with /fail500-N/ fail N times first; /404/ is not found; /stall/ sends a
// few bytes and hangs; /slow/ takes 30ms and records peak concurrency.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	hits     map[string]int
	inflight atomic.Int32
	peak     atomic.Int32
}

func newServer(t *testing.T) *server {
	s := &server{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	n := s.hits[r.URL.Path]
	s.mu.Unlock()
	body := []byte("content of " + r.URL.Path)
	var fails int
	fmt.Sscanf(r.URL.Path, "/fail500-%d/", &fails)
	switch {
	case strings.HasPrefix(r.URL.Path, "/404/"):
		http.NotFound(w, r)
	case fails >= n:
		http.Error(w, "try later", http.StatusInternalServerError)
	case strings.HasPrefix(r.URL.Path, "/stall/"):
		w.Header().Set("Content-Length", "1000")
		w.Write(body[:4])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	case strings.HasPrefix(r.URL.Path, "/slow/"):
		cur := s.inflight.Add(1)
		for p := s.peak.Load(); cur > p && !s.peak.CompareAndSwap(p, cur); p = s.peak.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		s.inflight.Add(-1)
		w.Write(body)
	default:
		w.Write(body)
	}
}

func (s *server) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// curl builds an org.osbuild.curl source for paths on srv, with the right
// checksums for what srv serves.
func curl(srv *server, paths ...string) map[string]json.RawMessage {
	items := map[string]any{}
	for i, p := range paths {
		sum := sum256([]byte("content of " + p))
		if i%2 == 0 {
			items[sum] = srv.URL + p
		} else {
			items[sum] = map[string]any{"url": srv.URL + p, "insecure": false}
		}
	}
	raw, _ := json.Marshal(map[string]any{"items": items})
	return map[string]json.RawMessage{TypeCurl: raw}
}

func fastOpts() Options {
	return Options{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, IdleTimeout: 2 * time.Second}
}

func dirOf(d string) func(string) string { return func(string) string { return d } }

// stored lists the store directory.
func stored(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestFetchAndCache(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	srcs := curl(srv, "/a", "/b", "/c")
	rep, err := Fetch(t.Context(), dirOf(dir), srcs, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/b", "/c"} {
		want := []byte("content of " + p)
		got, err := os.ReadFile(filepath.Join(dir, sum256(want)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s stored as %q, %v", p, got, err)
		}
	}
	if !rep.Success() || len(rep[TypeCurl]) != 3 || rep[TypeCurl][0].Cached {
		t.Fatalf("first report = %+v", rep)
	}
	rep, err = Fetch(t.Context(), dirOf(dir), srcs, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep[TypeCurl] {
		if !r.Cached {
			t.Fatalf("second fetch did not report %s cached", r.Checksum)
		}
	}
	if n := srv.hitsOf("/a"); n != 1 {
		t.Fatalf("/a fetched %d times, want once", n)
	}
}

func TestParallelBound(t *testing.T) {
	srv := newServer(t)
	var paths []string
	for i := range 12 {
		paths = append(paths, fmt.Sprintf("/slow/%d", i))
	}
	opts := fastOpts()
	opts.Parallel = 3
	if _, err := Fetch(t.Context(), dirOf(t.TempDir()), curl(srv, paths...), opts); err != nil {
		t.Fatal(err)
	}
	if p := srv.peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency %d, want 2..3", p)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	srv := newServer(t)
	if _, err := Fetch(t.Context(), dirOf(t.TempDir()), curl(srv, "/fail500-2/x"), fastOpts()); err != nil {
		t.Fatal(err)
	}
	if n := srv.hitsOf("/fail500-2/x"); n != 3 {
		t.Fatalf("hits = %d, want 3 (two 500s, then success)", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := newServer(t)
	opts := fastOpts()
	opts.Retries = 2
	_, err := Fetch(t.Context(), dirOf(t.TempDir()), curl(srv, "/fail500-9/x"), opts)
	var st *HTTPStatusError
	if !errors.As(err, &st) || st.StatusCode != 500 {
		t.Fatalf("err = %v, want HTTP 500", err)
	}
	if n := srv.hitsOf("/fail500-9/x"); n != 3 {
		t.Fatalf("hits = %d, want 1 + 2 retries", n)
	}
}

func TestFailuresKeepNothing(t *testing.T) {
	srv := newServer(t)
	wrong, _ := json.Marshal(map[string]any{"items": map[string]string{sum256([]byte("other")): srv.URL + "/m"}})
	tests := []struct {
		name  string
		srcs  map[string]json.RawMessage
		path  string
		class error
	}{
		{"404", curl(srv, "/404/x"), "/404/x", nil},
		{"mismatch", map[string]json.RawMessage{TypeCurl: wrong}, "/m", ErrDigestMismatch},
		{"idle", curl(srv, "/stall/x"), "/stall/x", ErrIdleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := fastOpts()
			opts.IdleTimeout = 100 * time.Millisecond
			if tt.class == ErrIdleTimeout {
				opts.Retries = -1
			}
			rep, err := Fetch(t.Context(), dirOf(dir), tt.srcs, opts)
			var ie *ItemError
			if !errors.As(err, &ie) || ie.URL != srv.URL+tt.path || ie.Checksum == "" {
				t.Fatalf("err = %v, want an *ItemError naming %s", err, tt.path)
			}
			var st *HTTPStatusError
			if tt.class != nil && !errors.Is(err, tt.class) || tt.class == nil && (!errors.As(err, &st) || st.StatusCode != 404) {
				t.Fatalf("err = %v, want class %v", err, tt.class)
			}
			if tt.class != ErrIdleTimeout && srv.hitsOf(tt.path) != 1 {
				t.Fatalf("%s hit %d times, want once (no retry)", tt.path, srv.hitsOf(tt.path))
			}
			if left := stored(t, dir); len(left) != 0 {
				t.Fatalf("failed fetch left %v", left)
			}
			if rep.Success() || rep[TypeCurl][0].Error == "" {
				t.Fatalf("report = %+v", rep)
			}
		})
	}
}

func TestFileURL(t *testing.T) {
	src := filepath.Join(t.TempDir(), "pkg.deb")
	data := []byte("a local package")
	os.WriteFile(src, data, 0o644)
	raw, _ := json.Marshal(map[string]any{"urls": map[string]string{sum256(data): "file://" + src}})
	dir := t.TempDir()
	var events []Progress
	opts := fastOpts()
	opts.Progress = func(ev Progress) { events = append(events, ev) }
	rep, err := Fetch(t.Context(), dirOf(dir), map[string]json.RawMessage{TypeFiles: raw}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, sum256(data))); !bytes.Equal(got, data) {
		t.Fatalf("stored %q", got)
	}
	want := []ItemResult{{Checksum: sum256(data)}}
	if diff := cmp.Diff(want, rep[TypeFiles]); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}
	last := events[len(events)-1]
	if !last.Finished || last.Done != int64(len(data)) || last.Total != int64(len(data)) {
		t.Fatalf("last progress event = %+v", last)
	}
}

func xzData(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func lzmaAlone(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w, err := lzma.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestInline(t *testing.T) {
	data := []byte("#!/bin/sh\necho inline\n")
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name, enc, payload string
		sum                string
		class              error
	}{
		{"base64", "base64", b64(data), sum256(data), nil},
		{"base64 wrapped", "base64", b64(data)[:8] + "\n" + b64(data)[8:], sum256(data), nil},
		{"xz", "lzma+base64", b64(xzData(t, data)), sum256(data), nil},
		{"lzma alone", "lzma+base64", b64(lzmaAlone(t, data)), sum256(data), nil},
		{"mismatch", "base64", b64(data), sum256([]byte("x")), ErrDigestMismatch},
		{"bad base64", "base64", "!!", sum256(data), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			raw, _ := json.Marshal(map[string]any{"items": map[string]any{tt.sum: map[string]string{"encoding": tt.enc, "data": tt.payload}}})
			_, err := Fetch(t.Context(), dirOf(dir), map[string]json.RawMessage{TypeInline: raw}, Options{})
			if tt.name == "bad base64" || tt.class != nil {
				if err == nil || (tt.class != nil && !errors.Is(err, tt.class)) {
					t.Fatalf("err = %v, want failure %v", err, tt.class)
				}
				if left := stored(t, dir); len(left) != 0 {
					t.Fatalf("failed item left %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, tt.sum)); !bytes.Equal(got, data) {
				t.Fatalf("stored %q", got)
			}
		})
	}
}

func TestInlineBombBounded(t *testing.T) {
	big := make([]byte, 1<<20)
	raw, _ := json.Marshal(map[string]any{"items": map[string]any{sum256(big): map[string]string{
		"encoding": "lzma+base64", "data": base64.StdEncoding.EncodeToString(xzData(t, big))}}})
	dir := t.TempDir()
	_, err := Fetch(t.Context(), dirOf(dir), map[string]json.RawMessage{TypeInline: raw}, Options{MaxItemSize: 1 << 16})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if left := stored(t, dir); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}

func TestConcurrentFetchSameItem(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	srcs := curl(srv, "/slow/shared", "/a")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = Fetch(t.Context(), dirOf(dir), srcs, fastOpts()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := []string{sum256([]byte("content of /a")), sum256([]byte("content of /slow/shared"))}
	got := stored(t, dir)
	if diff := cmp.Diff(want, got, sortStrings); diff != "" {
		t.Fatalf("store (-want +got):\n%s", diff)
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestStalePartialRemoved(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, partialPrefix+"sha256-123")
	os.WriteFile(stale, []byte("half"), 0o644)
	if _, err := Fetch(t.Context(), dirOf(dir), map[string]json.RawMessage{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale partial file survived")
	}
}

func TestSameChecksumTwoSources(t *testing.T) {
	srv := newServer(t)
	data := []byte("content of /a")
	inline, _ := json.Marshal(map[string]any{"items": map[string]any{sum256(data): map[string]string{
		"encoding": "base64", "data": base64.StdEncoding.EncodeToString(data)}}})
	srcs := curl(srv, "/a")
	srcs[TypeInline] = inline
	rep, err := Fetch(t.Context(), dirOf(t.TempDir()), srcs, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep[TypeCurl]) != 1 || len(rep[TypeInline]) != 1 || srv.hitsOf("/a") != 1 {
		t.Fatalf("report %+v, hits %d; want both reported, fetched once (by curl, first in type order)", rep, srv.hitsOf("/a"))
	}
}

func TestCancel(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := Fetch(ctx, dirOf(t.TempDir()), curl(srv, "/stall/x"), fastOpts())
	if err == nil {
		t.Fatal("Fetch succeeded after cancel")
	}
}
