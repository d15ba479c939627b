package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"
)

// Options tune Fetch. The zero value gives osbuild's curl source behaviour.
type Options struct {
	// Parallel bounds concurrent downloads; 0 means 2 per CPU, as
	// osbuild's curl source sizes its worker pool.
	Parallel int
	// Retries is how often a transient failure (HTTP 5xx, 408, 429,
	// connection errors, timeouts) is retried; 0 means 10, osbuild's
	// NR_RETRYS; negative means never.
	Retries int
	// Backoff is the first wait between attempts, doubling up to
	// MaxBackoff; 0 means 1s and 30s.
	Backoff, MaxBackoff time.Duration
	// ConnectTimeout bounds connecting; IdleTimeout bounds any wait for
	// the next bytes of a response. 0 means 30s each, like osbuild's curl
	// "connect-timeout = 30" and its 30s low-speed window.
	ConnectTimeout, IdleTimeout time.Duration
	// MaxItemSize bounds each item in bytes (downloaded or decoded); 0
	// means 64 GiB, negative means no bound.
	MaxItemSize int64
	// Progress, if set, receives download progress, throttled to one
	// event per item per ProgressInterval (0 means 1s) plus one when an
	// item ends. Calls are serialised.
	Progress func(ev Progress)
	// ProgressInterval throttles Progress.
	ProgressInterval time.Duration
	// Client makes the requests; nil means a client honouring the
	// timeouts and the proxy environment. Items marked "insecure" get a
	// copy of its transport that skips TLS verification when it is an
	// *http.Transport.
	Client *http.Client
}

// Progress reports one item's download.
type Progress struct {
	Checksum string
	URL      string
	Done     int64 // bytes received so far
	Total    int64 // bytes expected, -1 when unknown
	Finished bool  // the item is complete (or failed)
}

// ItemResult is the outcome of one item, as osbuild's SourceItemResult.
type ItemResult struct {
	Checksum string
	Cached   bool   // it was in the store already
	Error    string // empty on success
}

// Report lists every item's outcome by source type, items ordered by
// checksum; it feeds the "sources" part of the --json result.
type Report map[string][]ItemResult

// Success reports whether every item succeeded.
func (r Report) Success() bool {
	for _, items := range r {
		for _, it := range items {
			if it.Error != "" {
				return false
			}
		}
	}
	return true
}

// ItemError is the failure of one item, naming it.
type ItemError struct {
	Type     string
	Checksum string
	URL      string // empty for inline items
	Err      error
}

func (e *ItemError) Error() string {
	if e.URL == "" {
		return fmt.Sprintf("fetch source %s: %v", e.Checksum, e.Err)
	}
	return fmt.Sprintf("fetch source %s (%s): %v", e.Checksum, e.URL, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Fetch brings every item of srcs (the manifest's "sources": type -> raw
// options) into dir(FilesDir), skipping items already there. It returns
// each item's outcome and, if any failed, the failures joined (each an
// *ItemError). A malformed or unknown source fails before anything is
// fetched. Nothing is kept of an item that failed.
func Fetch(ctx context.Context, dir func(typ string) string, srcs map[string]json.RawMessage, opts Options) (Report, error) {
	items, err := parseSources(srcs)
	if err != nil {
		return nil, err
	}
	dest := dir(FilesDir)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, fmt.Errorf("fetch sources: %w", err)
	}
	if err := cleanupPartials(dest); err != nil {
		return nil, fmt.Errorf("fetch sources: %w", err)
	}
	f := newFetcher(dest, opts.withDefaults())
	return f.run(ctx, items)
}

// withDefaults fills in zero fields.
func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Parallel <= 0 {
		o.Parallel = 2 * runtime.NumCPU()
	}
	if o.Retries == 0 {
		o.Retries = 10
	}
	if o.MaxItemSize == 0 {
		o.MaxItemSize = 64 << 30
	}
	def(&o.Backoff, time.Second)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.ConnectTimeout, 30*time.Second)
	def(&o.IdleTimeout, 30*time.Second)
	def(&o.ProgressInterval, time.Second)
	return o
}

// fetcher holds one Fetch call's state.
type fetcher struct {
	dest   string
	opts   Options
	client *http.Client
	insec  *http.Client
	progMu sync.Mutex
}

func newFetcher(dest string, opts Options) *fetcher {
	f := &fetcher{dest: dest, opts: opts, client: opts.Client}
	if f.client == nil {
		f.client = defaultClient(opts)
	}
	f.insec = insecureClient(f.client)
	return f
}

// run fetches items with bounded parallelism; the same checksum listed by
// several sources is fetched once and reported for each.
func (f *fetcher) run(ctx context.Context, items []item) (Report, error) {
	results := make([]ItemResult, len(items))
	errs := make([]error, len(items))
	first := map[string]int{}
	sem := make(chan struct{}, f.opts.Parallel)
	var wg sync.WaitGroup
	for i, it := range items {
		if _, dup := first[it.sum.String()]; dup {
			continue
		}
		first[it.sum.String()] = i
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = f.one(ctx, it)
		})
	}
	wg.Wait()
	return f.report(items, results, first), errors.Join(errs...)
}

// report assembles results, copying a deduplicated item's outcome.
func (f *fetcher) report(items []item, results []ItemResult, first map[string]int) Report {
	rep := Report{}
	for i, it := range items {
		r := results[i]
		if r.Checksum == "" {
			r = results[first[it.sum.String()]]
		}
		rep[it.typ] = append(rep[it.typ], r)
	}
	return rep
}

// one fetches a single item unless it is present.
func (f *fetcher) one(ctx context.Context, it item) (ItemResult, error) {
	res := ItemResult{Checksum: it.sum.String()}
	if present(f.dest, it.sum) {
		res.Cached = true
		return res, nil
	}
	var err error
	if it.typ == TypeInline {
		err = f.inline(it)
	} else {
		err = f.download(ctx, it)
	}
	if err != nil {
		ierr := &ItemError{Type: it.typ, Checksum: it.sum.String(), URL: it.url, Err: err}
		res.Error = ierr.Error()
		return res, ierr
	}
	return res, nil
}
