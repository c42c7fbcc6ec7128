package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// gateInbox holds every Append until the gate opens, or fails it with err.
type gateInbox struct {
	gate    chan struct{}
	entered chan struct{}
	err     error
	mu      sync.Mutex
	stored  int
}

func (g *gateInbox) Append(ctx context.Context, _ *mapping.RawRequest) (bool, error) {
	if g.err != nil {
		return false, g.err
	}
	g.entered <- struct{}{}
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stored++
	return false, nil
}

func (g *gateInbox) Reject(context.Context, *mapping.RawRequest, string) error { return nil }

// shedError is how the inbox writer says it shed a request.
type shedError struct{ after time.Duration }

func (e shedError) Error() string             { return "inbox overloaded" }
func (e shedError) RetryAfter() time.Duration { return e.after }

type answer struct {
	code       int
	retryAfter string
	errCode    string
}

func newGatedHandler(maxInflight int, wait time.Duration, inbox Inbox) http.Handler {
	cfg := DefaultConfig()
	cfg.MaxInflight, cfg.InflightWait = maxInflight, wait
	log := logrus.New()
	log.SetOutput(io.Discard)
	h := NewHandler(cfg, map[string]SourceConfig{"form": {Provider: "form"}}, nil, inbox, nil, logrus.NewEntry(log), time.Now)
	mux := http.NewServeMux()
	h.Register(mux)
	return mux
}

func postForm(h http.Handler) answer {
	req := httptest.NewRequest(http.MethodPost, "/hooks/form", strings.NewReader("email=ana%40example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return answer{rec.Code, rec.Header().Get("Retry-After"), out.Error}
}

func TestBackpressure(t *testing.T) {
	t.Run("past max_inflight a request waits, then is told 503 overloaded and nothing of it is stored", func(t *testing.T) {
		inbox := &gateInbox{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
		h := newGatedHandler(2, 50*time.Millisecond, inbox)
		answers := make(chan answer, 2)
		for range 2 {
			go func() { answers <- postForm(h) }()
		}
		<-inbox.entered
		<-inbox.entered // both places taken, held in the commit
		if got := postForm(h); got != (answer{http.StatusServiceUnavailable, "1", "overloaded"}) {
			t.Fatalf("the third request: %+v, want 503 overloaded with Retry-After 1", got)
		}
		close(inbox.gate)
		for range 2 {
			if got := <-answers; got.code != http.StatusAccepted {
				t.Fatalf("a request within the cap: %+v, want 202", got)
			}
		}
		if inbox.stored != 2 {
			t.Fatalf("stored %d, want 2", inbox.stored)
		}
	})
	t.Run("a place freed within inflight_wait is taken and the request accepted", func(t *testing.T) {
		inbox := &gateInbox{gate: make(chan struct{}), entered: make(chan struct{}, 2)}
		h := newGatedHandler(1, time.Minute, inbox)
		first, second := make(chan answer, 1), make(chan answer, 1)
		go func() { first <- postForm(h) }()
		<-inbox.entered
		go func() { second <- postForm(h) }()
		close(inbox.gate) // the first commits and frees its place
		if a, b := <-first, <-second; a.code != http.StatusAccepted || b.code != http.StatusAccepted {
			t.Fatalf("answers %+v and %+v, want both 202", a, b)
		}
	})
	t.Run("an inbox that sheds the request is answered 503 overloaded with the inbox's delay", func(t *testing.T) {
		h := newGatedHandler(0, time.Second, &gateInbox{err: shedError{after: 2500 * time.Millisecond}})
		if got := postForm(h); got != (answer{http.StatusServiceUnavailable, "3", "overloaded"}) {
			t.Fatalf("got %+v, want 503 overloaded with Retry-After 3 (rounded up)", got)
		}
	})
	t.Run("a failing inbox without a delay is storage_unavailable, not overload", func(t *testing.T) {
		h := newGatedHandler(0, time.Second, &gateInbox{err: errors.New("connection refused")})
		if got := postForm(h); got != (answer{http.StatusServiceUnavailable, "5", "storage_unavailable"}) {
			t.Fatalf("got %+v, want 503 storage_unavailable with Retry-After 5", got)
		}
	})
}
