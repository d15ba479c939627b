package registrytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Fault is what a Proxy does to the body of a response it is told to
// break.
type Fault int

const (
	// Cut sends half of the body, calls Proxy.OnBreak (which may stop
	// the registry) and closes the connection.
	Cut Fault = iota
	// Stall sends half of the body, calls OnBreak, then sends nothing
	// more until the client gives up.
	Stall
	// Answer does not forward the request but answers it with Status and
	// Body (a registry's error document), as a registry whose state is
	// in flux does.
	Answer
)

// Proxy forwards to a registry over plain HTTP on 127.0.0.1 and breaks
// the first response whose request Match accepts, as a registry that goes
// away or hangs in the middle of a transfer.
type Proxy struct {
	// Host is the proxy's host:port, used in place of the registry's.
	Host string
	// Match picks the request whose response to break; nil breaks the
	// first GET of a blob.
	Match func(*http.Request) bool
	// OnBreak runs when half of the body was sent.
	OnBreak func()
	Fault   Fault
	// Status and Body are the answer of Fault Answer.
	Status int
	Body   string

	target string
	mu     sync.Mutex
	broken chan struct{}
}

// NewProxy starts a proxy to r for t, stopped when t ends.
func NewProxy(t testing.TB, r *Registry, fault Fault) *Proxy {
	p := &Proxy{target: "http://" + r.Host, Fault: fault, broken: make(chan struct{})}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Ref returns a remote-cache reference for repository repo through the
// proxy.
func (p *Proxy) Ref(repo string) string { return p.Host + "/" + repo }

// Broken reports whether the proxy has broken a response.
func (p *Proxy) Broken() bool {
	select {
	case <-p.broken:
		return true
	default:
		return false
	}
}

// breaks says whether to break the response to r, and if so marks the
// proxy broken: it breaks one response only.
func (p *Proxy) breaks(r *http.Request) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Broken() {
		return false
	}
	ok := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
	if p.Match != nil {
		ok = p.Match(r)
	}
	if ok {
		close(p.broken)
	}
	return ok
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.Fault == Answer && p.breaks(r) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(p.Status)
		io.WriteString(w, p.Body)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.ContentLength = r.ContentLength
	req.Host = r.Host // the registry writes upload locations for the host it was asked by
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if p.Fault == Answer || resp.StatusCode != http.StatusOK || resp.ContentLength < 2 || !p.breaks(r) {
		io.Copy(w, resp.Body)
		return
	}
	io.CopyN(w, resp.Body, resp.ContentLength/2)
	w.(http.Flusher).Flush()
	if p.OnBreak != nil {
		p.OnBreak()
	}
	if p.Fault == Stall {
		<-r.Context().Done()
		return
	}
	panic(http.ErrAbortHandler) // closes the connection mid-body
}
