package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// memInbox accepts every request.
type memInbox struct {
	mu  sync.Mutex
	raw []*mapping.RawRequest
}

func (m *memInbox) Append(_ context.Context, raw *mapping.RawRequest) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.raw = append(m.raw, raw)
	return false, nil
}

func (m *memInbox) Reject(context.Context, *mapping.RawRequest, string) error { return nil }

// countingBody counts the bytes the handler reads from a request body.
type countingBody struct {
	r    io.Reader
	read *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (countingBody) Close() error { return nil }

// limitedHandler serves the form sources "limited" (rps, burst), "open"
// (no limit) and the signing source "signed" (Tally with a secret, the
// same limit), on a clock the test moves.
type limitedHandler struct {
	h      *Handler
	now    time.Time
	status []int // what OnRequest saw, in order
	labels []string
}

func newLimitedHandler(t *testing.T, rps float64, burst int) *limitedHandler {
	t.Helper()
	rl := &RateLimit{RPS: rps, Burst: burst}
	sources := map[string]SourceConfig{
		"limited": {Provider: "form", RateLimit: rl},
		"open":    {Provider: "form"},
		"signed":  {Provider: "tally", Secret: "tally-signing-secret-0123", RateLimit: rl},
	}
	for name, sc := range sources {
		if errs := sc.Validate(name); len(errs) > 0 {
			t.Fatalf("source %s: %v", name, errs)
		}
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	lh := &limitedHandler{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	lh.h = NewHandler(DefaultConfig(), sources, nil, &memInbox{}, nil, logrus.NewEntry(log), time.Now)
	lh.h.clock = func() time.Time { return lh.now }
	lh.h.OnRequest = func(source string, status int, _ time.Duration) {
		lh.labels = append(lh.labels, source)
		lh.status = append(lh.status, status)
	}
	return lh
}

// post sends a form to /hooks/<source> and returns the recorder and how
// many body bytes the handler read.
func (lh *limitedHandler) post(source string) (*httptest.ResponseRecorder, int64) {
	var read atomic.Int64
	body := "email=ana%40example.com&name=Ana"
	req := httptest.NewRequest(http.MethodPost, "/hooks/"+source, nil)
	req.Body = countingBody{r: strings.NewReader(body), read: &read}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Tally-Signature", "bm90LXRoZS1zaWduYXR1cmU=")
	mux := http.NewServeMux()
	lh.h.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec, read.Load()
}

func (lh *limitedHandler) statuses(source string, n int) []int {
	out := make([]int, n)
	for i := range out {
		rec, _ := lh.post(source)
		out[i] = rec.Code
	}
	return out
}

func wantStatuses(t *testing.T, got []int, want ...int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
}

func TestRateLimits(t *testing.T) {
	const (
		ok      = http.StatusAccepted
		limited = http.StatusTooManyRequests
	)
	tests := []struct {
		name  string
		rps   float64
		burst int
		run   func(t *testing.T, lh *limitedHandler)
	}{
		{
			name: "a burst within the limit is accepted and the request past it is told to retry in a second",
			rps:  1, burst: 3,
			run: func(t *testing.T, lh *limitedHandler) {
				wantStatuses(t, lh.statuses("limited", 3), ok, ok, ok)
				rec, _ := lh.post("limited")
				if rec.Code != limited {
					t.Fatalf("4th request: %d, want 429", rec.Code)
				}
				if got := rec.Header().Get("Retry-After"); got != "1" {
					t.Errorf("Retry-After %q, want 1", got)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q: %v", rec.Body, err)
				}
				if body["error"] != "rate_limited" || !strings.Contains(body["message"], `"limited"`) || len(body) != 2 {
					t.Errorf("body %v, want {error: rate_limited, message naming the source}", body)
				}
			},
		},
		{
			name: "a slow rate asks to come back when the next token is due, rounded up to whole seconds",
			rps:  0.3, burst: 1,
			run: func(t *testing.T, lh *limitedHandler) {
				wantStatuses(t, lh.statuses("limited", 1), ok)
				rec, _ := lh.post("limited")
				if rec.Code != limited || rec.Header().Get("Retry-After") != "4" {
					t.Fatalf("%d with Retry-After %q, want 429 with 4 (1/0.3 s = 3.33 s)", rec.Code, rec.Header().Get("Retry-After"))
				}
				lh.now = lh.now.Add(2 * time.Second)
				if rec, _ := lh.post("limited"); rec.Header().Get("Retry-After") != "2" {
					t.Fatalf("2 s later: Retry-After %q, want 2", rec.Header().Get("Retry-After"))
				}
			},
		},
		{
			name: "the bucket refills with time",
			rps:  10, burst: 2,
			run: func(t *testing.T, lh *limitedHandler) {
				wantStatuses(t, lh.statuses("limited", 3), ok, ok, limited)
				lh.now = lh.now.Add(100 * time.Millisecond)
				wantStatuses(t, lh.statuses("limited", 2), ok, limited)
				lh.now = lh.now.Add(time.Second)
				wantStatuses(t, lh.statuses("limited", 3), ok, ok, limited)
			},
		},
		{
			name: "requests refused while over the limit do not push the next acceptance further away",
			rps:  1, burst: 1,
			run: func(t *testing.T, lh *limitedHandler) {
				wantStatuses(t, lh.statuses("limited", 1), ok)
				for range 50 {
					if rec, _ := lh.post("limited"); rec.Code != limited {
						t.Fatalf("%d, want 429", rec.Code)
					}
				}
				lh.now = lh.now.Add(time.Second)
				wantStatuses(t, lh.statuses("limited", 1), ok)
			},
		},
		{
			name: "a limited request's body is never read and its signature never checked",
			rps:  1, burst: 1,
			run: func(t *testing.T, lh *limitedHandler) {
				rec, read := lh.post("signed")
				if rec.Code != http.StatusUnauthorized || read == 0 {
					t.Fatalf("first, badly signed request: %d after reading %d bytes, want 401 after reading the body", rec.Code, read)
				}
				rec, read = lh.post("signed")
				if rec.Code != limited || read != 0 {
					t.Fatalf("second request: %d after reading %d bytes, want 429 before reading anything", rec.Code, read)
				}
			},
		},
		{
			name: "one source over its limit leaves the other sources alone",
			rps:  1, burst: 1,
			run: func(t *testing.T, lh *limitedHandler) {
				wantStatuses(t, lh.statuses("limited", 2), ok, limited)
				wantStatuses(t, lh.statuses("open", 20), ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok, ok)
				rec, _ := lh.post("signed") // a bucket of its own
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("signed: %d, want 401 (not limited)", rec.Code)
				}
			},
		},
		{
			name: "a mapping reload keeps the sources' buckets",
			rps:  1, burst: 1,
			run: func(t *testing.T, lh *limitedHandler) {
				wantStatuses(t, lh.statuses("limited", 1), ok)
				lh.h.SetMappings(nil)
				wantStatuses(t, lh.statuses("limited", 1), limited)
			},
		},
		{
			name: "refusals are reported to the metrics hook as 429 of the source",
			rps:  1, burst: 1,
			run: func(t *testing.T, lh *limitedHandler) {
				lh.statuses("limited", 2)
				lh.post("nowhere")
				want := []string{"limited/202", "limited/429", "_unknown/404"}
				for i := range want {
					if i >= len(lh.status) || lh.labels[i]+"/"+itoa(int64(lh.status[i])) != want[i] {
						t.Fatalf("observed %v %v, want %v", lh.labels, lh.status, want)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newLimitedHandler(t, tt.rps, tt.burst))
		})
	}
}

func TestRateLimitValidation(t *testing.T) {
	tests := []struct {
		name string
		rl   *RateLimit
		want []string
	}{
		{"no limit is valid", nil, nil},
		{"a rate and a burst are valid", &RateLimit{RPS: 200, Burst: 400}, nil},
		{"a fractional rate is valid", &RateLimit{RPS: 0.5, Burst: 1}, nil},
		{"an empty block reports both keys at once", &RateLimit{},
			[]string{"rate_limit.rps: must be a positive number", "rate_limit.burst: must be at least 1"}},
		{"a negative rate is refused", &RateLimit{RPS: -1, Burst: 5}, []string{"rate_limit.rps: must be a positive number of requests per second, got -1"}},
		{"an infinite rate is refused (it would be no limit)", &RateLimit{RPS: math.Inf(1), Burst: 5}, []string{"rate_limit.rps: must be a positive number of requests per second, got +Inf"}},
		{"a negative burst is refused", &RateLimit{RPS: 5, Burst: -2}, []string{"rate_limit.burst: must be at least 1 (the requests accepted at once), got -2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := SourceConfig{Provider: "form", RateLimit: tt.rl}.Validate("s")
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %v, want %d: %v", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %q, want it to start with %q", errs[i], w)
				}
			}
		})
	}
}
