package adminclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, Token: "tok-0123456789abcdef", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAnswersOutside2xxAreTypedAndQuoteTheAPIsError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		is       error
		contains string
	}{
		{"a refused token is ErrUnauthorized", 401, `{"error":"unauthorized","message":"a valid bearer token is required"}`,
			ErrUnauthorized, `GET /v1/customers/c1: HTTP 401: {"error":"unauthorized","message":"a valid bearer token is required"}`},
		{"a missing record is ErrNotFound", 404, `{"error": "not_found", "message": "no customer with that id"}`,
			ErrNotFound, `HTTP 404: {"error":"not_found","message":"no customer with that id"}`},
		{"an erased customer is ErrGone", 410, `{"error":"erased","message":"the customer was erased on request","id":"c1"}`,
			ErrGone, `"error":"erased"`},
		{"a route the daemon lacks says it may be older", 404, "404 page not found\n",
			ErrNotFound, "HTTP 404: 404 page not found (the daemon has no such endpoint"},
		{"a proxy's page is quoted shortened", 502, "<html>" + strings.Repeat("x", 1000) + "</html>",
			nil, "HTTP 502: <html>xxx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := c.GetCustomer(context.Background(), "c1")
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("err = %v, want an *APIError with status %d", err, tc.status)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.contains) || len(err.Error()) > 500 {
				t.Errorf("message %q lacks %q or is too long", err, tc.contains)
			}
		})
	}
}

func TestRequestsCarryTheTokenAndTheQuery(t *testing.T) {
	var got *http.Request
	var body string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		_, _ = io.WriteString(w, `{"queued":3,"skipped_purged":1,"dry_run":true}`)
	})
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("BRT", -3*3600))
	res, err := c.ReplayInbox(context.Background(), InboxReplay{Source: "typeform", From: from, To: from.Add(time.Hour), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/v1/inbox/replay" || got.Header.Get("Authorization") != "Bearer tok-0123456789abcdef" {
		t.Fatalf("request %s %s, Authorization %q", got.Method, got.URL.Path, got.Header.Get("Authorization"))
	}
	for _, want := range []string{`"source":"typeform"`, `"from":"2026-01-01T03:00:00Z"`, `"to":"2026-01-01T04:00:00Z"`, `"dry_run":true`} {
		if !strings.Contains(body, want) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}
	if res.Queued != 3 || res.SkippedPurged != 1 || string(res.Raw) != `{"queued":3,"skipped_purged":1,"dry_run":true}` {
		t.Errorf("answer %+v", res)
	}

	_, _ = c.ListDeliveries(context.Background(), DeliveryFilter{Status: "dead", Destination: "crm"}, Page{Limit: 10, Before: 99})
	if q := got.URL.Query(); q.Get("status") != "dead" || q.Get("destination") != "crm" || q.Get("limit") != "10" || q.Get("before") != "99" || q.Has("from") {
		t.Errorf("query %s", got.URL.RawQuery)
	}
	_, _ = c.FindCustomer(context.Background(), Lookup{Type: "email", Value: "a+b@example.com"})
	if got.URL.Query().Get("email") != "a+b@example.com" {
		t.Errorf("query %s", got.URL.RawQuery)
	}
}

func TestASlowAPITimesOutButAnExportStreamsForAsLongAsItTakes(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/funnel" {
			time.Sleep(500 * time.Millisecond)
			return
		}
		// The export's first byte comes at once, the rest after the timeout.
		_, _ = io.WriteString(w, "{\"id\":\"a\"}\n")
		w.(http.Flusher).Flush()
		time.Sleep(500 * time.Millisecond)
		_, _ = io.WriteString(w, "{\"id\":\"b\"}\n")
	})
	if _, err := c.Funnel(context.Background(), FunnelQuery{}); err == nil || !strings.Contains(err.Error(), "no answer from") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	body, err := c.Export(context.Background(), ExportQuery{Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil || strings.Count(string(b), "\n") != 2 {
		t.Fatalf("export %q, %v", b, err)
	}
}

func TestAnExportThatDoesNotStartInTimeFails(t *testing.T) {
	c := newTestClient(t, func(http.ResponseWriter, *http.Request) { time.Sleep(500 * time.Millisecond) })
	if _, err := c.Export(context.Background(), ExportQuery{}); err == nil || !strings.Contains(err.Error(), "no answer from") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestTheBaseURLIsNormalizedOrRefused(t *testing.T) {
	for in, want := range map[string]string{
		"":                        DefaultBaseURL,
		"127.0.0.1:9090":          "http://127.0.0.1:9090",
		"https://hub.example/ch/": "https://hub.example/ch",
	} {
		c, err := New(Config{BaseURL: in, Token: "t"})
		if err != nil || c.BaseURL() != want {
			t.Errorf("%q: %v %v, want %s", in, c, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "::"} {
		if _, err := New(Config{BaseURL: bad, Token: "t"}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("a client without a token was made")
	}
}
