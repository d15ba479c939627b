package sources

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrIdleTimeout reports a transfer that received nothing for IdleTimeout.
var ErrIdleTimeout = errors.New("no data received within the idle timeout")

// ErrUnsupported reports an item form this build cannot fetch.
var ErrUnsupported = errors.New("unsupported")

// HTTPStatusError is a response with a status other than 200 OK.
type HTTPStatusError struct {
	StatusCode int
	Status     string
}

func (e *HTTPStatusError) Error() string { return "HTTP " + e.Status }

// transient reports whether a failure may go away on retry: server errors,
// throttling and network trouble, not 4xx, digests or cancellation.
func (e *HTTPStatusError) transient() bool {
	return e.StatusCode >= 500 || e.StatusCode == 408 || e.StatusCode == 429
}

// download fetches a URL item with retries into the store.
func (f *fetcher) download(ctx context.Context, it item) error {
	if it.secrets != "" {
		return fmt.Errorf("secrets provider %q: %w", it.secrets, ErrUnsupported)
	}
	u, err := requestURL(it.url)
	if err != nil {
		return err
	}
	w, err := newWriter(f.dest, it.sum, f.opts.MaxItemSize)
	if err != nil {
		return err
	}
	defer w.close()
	for attempt := 0; ; attempt++ {
		err = f.attempt(ctx, it, u, w)
		if err == nil {
			return w.commit()
		}
		if !isTransient(ctx, err) || attempt >= f.opts.Retries {
			return err
		}
		if err := f.sleep(ctx, attempt); err != nil {
			return err
		}
		if err := w.reset(); err != nil {
			return err
		}
	}
}

// sleep waits the backoff for the given attempt.
func (f *fetcher) sleep(ctx context.Context, attempt int) error {
	d := f.opts.Backoff << min(attempt, 30)
	if d > f.opts.MaxBackoff || d <= 0 {
		d = f.opts.MaxBackoff
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isTransient classifies a failed attempt.
func isTransient(ctx context.Context, err error) bool {
	var st *HTTPStatusError
	switch {
	case ctx.Err() != nil, errors.Is(err, ErrDigestMismatch), errors.Is(err, ErrTooLarge),
		errors.Is(err, ErrUnsupported), errors.Is(err, os.ErrNotExist):
		return false
	case errors.As(err, &st):
		return st.transient()
	case errors.Is(err, ErrIdleTimeout), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

// attempt makes one transfer into w.
func (f *fetcher) attempt(ctx context.Context, it item, u *url.URL, w *writer) error {
	if u.Scheme == "file" {
		return f.copyFile(u.Path, it, w)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(f.opts.IdleTimeout, func() { cancel(ErrIdleTimeout) })
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "osbuild-vm")
	client := f.client
	if it.insecure {
		client = f.insec
	}
	resp, err := client.Do(req)
	if err != nil {
		return causeOr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &HTTPStatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	body := &idleReader{r: resp.Body, timer: idle, d: f.opts.IdleTimeout}
	return causeOr(ctx, f.copy(w, body, it, resp.ContentLength))
}

// causeOr prefers the idle timeout as the reason a request was cancelled.
func causeOr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrIdleTimeout) {
		return ErrIdleTimeout
	}
	return err
}

// idleReader re-arms the idle timer whenever bytes arrive.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.d)
	}
	return n, err
}

// copyFile reads a file:// item.
func (f *fetcher) copyFile(path string, it item, w *writer) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	size := int64(-1)
	if st, err := src.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f.copy(w, src, it, size)
}

// copy moves the body into w, reporting progress.
func (f *fetcher) copy(w *writer, r io.Reader, it item, total int64) error {
	p := &progressReader{r: r, f: f, ev: Progress{Checksum: it.sum.String(), URL: it.url, Total: total}}
	_, err := io.Copy(w, p)
	p.ev.Finished = true
	f.emit(p.ev)
	return err
}

// progressReader counts bytes and emits throttled progress events.
type progressReader struct {
	r    io.Reader
	f    *fetcher
	ev   Progress
	last time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.ev.Done += int64(n)
	if now := time.Now(); now.Sub(p.last) >= p.f.opts.ProgressInterval {
		p.last = now
		p.f.emit(p.ev)
	}
	return n, err
}

// emit calls the progress callback, one call at a time.
func (f *fetcher) emit(ev Progress) {
	if f.opts.Progress == nil {
		return
	}
	f.progMu.Lock()
	defer f.progMu.Unlock()
	f.opts.Progress(ev)
}

// requestURL parses an item URL and quotes its path as osbuild's curl
// source does (Python's urllib.parse.quote with "/" safe), so the request
// line is the one osbuild would send.
func requestURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		return u, nil
	case "http", "https":
	default:
		return nil, fmt.Errorf("URL scheme %q: %w; use http, https or file", u.Scheme, ErrUnsupported)
	}
	orig := u.EscapedPath()
	u.Path, u.RawPath = orig, pyQuote(orig)
	return u, nil
}

// pyQuote percent-encodes every byte but ASCII letters, digits, "_.-~/".
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// defaultClient honours the connect timeout and the proxy environment.
func defaultClient(o Options) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = o.ConnectTimeout
	tr.MaxIdleConnsPerHost = o.Parallel
	return &http.Client{Transport: tr}
}

// insecureClient copies c with TLS verification off, for "insecure" items.
func insecureClient(c *http.Client) *http.Client {
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		return c
	}
	tr = tr.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.InsecureSkipVerify = true
	cc := *c
	cc.Transport = tr
	return &cc
}
