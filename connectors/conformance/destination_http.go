package conformance

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Class is how a fake destination fails a request or a record.
type Class int

const (
	// Retryable answers 503 (or fails the record retryably).
	Retryable Class = iota + 1
	// Permanent answers 400 (or fails the record for good).
	Permanent
)

// Destination is the fake destination a connector under test writes to.
type Destination interface {
	// FailNext answers the next n requests with a failure of class.
	FailNext(n int, class Class)
	// FailEvent fails the record of this event in every batch (a batch
	// destination answers the others as delivered).
	FailEvent(eventID string, class Class)
	// Hang holds every request until release is closed.
	Hang(release <-chan struct{})
	// Accepted lists the event ids delivered, in arrival order.
	Accepted() []string
}

// HTTPDestination is a scriptable loopback HTTP server standing in for a
// connector's destination.
type HTTPDestination struct {
	URL string
	// Events reads the event ids a request carries (connector-specific).
	Events func(r *http.Request, body []byte) []string
	// Partial, for batch destinations, answers a request some of whose
	// records fail (connector-specific); nil answers 207 with no detail.
	Partial func(w http.ResponseWriter, ids []string, failing map[string]Class)

	mu       sync.Mutex
	failNext []Class
	failing  map[string]Class
	hang     <-chan struct{}
	accepted []string
	// Requests keeps every request's headers and body, for assertions.
	requests []Request
}

// Request is one request the destination received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// NewHTTPDestination starts the server; it stops when the test ends.
func NewHTTPDestination(t testing.TB, events func(r *http.Request, body []byte) []string) *HTTPDestination {
	d := &HTTPDestination{Events: events, failing: map[string]Class{}}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func (d *HTTPDestination) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.requests = append(d.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	hang := d.hang
	d.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	ids := d.Events(r, body)
	d.mu.Lock()
	var fail Class
	if len(d.failNext) > 0 {
		fail, d.failNext = d.failNext[0], d.failNext[1:]
	}
	failing := map[string]Class{}
	for _, id := range ids {
		if c, ok := d.failing[id]; ok {
			failing[id] = c
		}
	}
	if fail == 0 {
		for _, id := range ids {
			if _, bad := failing[id]; !bad {
				d.accepted = append(d.accepted, id)
			}
		}
	}
	d.mu.Unlock()
	switch {
	case fail == Retryable:
		// Longer than a client waits in-call: the failure reaches the caller.
		w.Header().Set("Retry-After", "30")
		http.Error(w, "unavailable (test)", http.StatusServiceUnavailable)
	case fail == Permanent:
		http.Error(w, "bad request (test)", http.StatusBadRequest)
	case len(failing) > 0 && d.Partial != nil:
		d.Partial(w, ids, failing)
	case len(failing) > 0:
		// A one-record destination fails the request as the record does.
		if failing[ids[0]] == Permanent {
			http.Error(w, "bad record (test)", http.StatusBadRequest)
		} else {
			http.Error(w, "unavailable (test)", http.StatusServiceUnavailable)
		}
	default:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
}

// FailNext answers the next n requests with a failure of class.
func (d *HTTPDestination) FailNext(n int, class Class) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range n {
		d.failNext = append(d.failNext, class)
	}
}

// FailEvent fails the record of this event.
func (d *HTTPDestination) FailEvent(eventID string, class Class) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failing[eventID] = class
}

// Hang holds every request until release is closed.
func (d *HTTPDestination) Hang(release <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hang = release
}

// Accepted lists the event ids delivered.
func (d *HTTPDestination) Accepted() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.accepted...)
}

// Requests returns every request received.
func (d *HTTPDestination) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Request(nil), d.requests...)
}
