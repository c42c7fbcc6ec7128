package connectors_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/connectors"
)

// answer is a response as resty hands it over, without a server.
func answer(status int, header http.Header, body string) *resty.Response {
	if header == nil {
		header = http.Header{}
	}
	r := &resty.Response{RawResponse: &http.Response{StatusCode: status, Header: header}}
	return r.SetBody([]byte(body))
}

func retryAfterHeader(v string) http.Header {
	h := http.Header{}
	h.Set("Retry-After", v)
	return h
}

// kind is how an error reads to the delivery engine, with what it carries.
type kind struct {
	outcome connectors.Outcome
	after   time.Duration
	status  int
}

func kindOf(err error) kind {
	o, after := connectors.Classify(err)
	k := kind{outcome: o, after: after}
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		k.status = s.HTTPStatus()
	}
	return k
}

func TestClassifyHTTPReadsEachAnswer(t *testing.T) {
	const body = "  {\"error\":\n\t\"upstream   down\"}\r\n"
	const oneLine = `{"error": "upstream down"}`
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		want   kind
		// afterAtLeast, when set, replaces an exact after (an HTTP date
		// is read against the clock, to the second).
		afterAtLeast time.Duration
	}{
		{name: "a 200 is delivered", status: 200, want: kind{outcome: connectors.Delivered}},
		{name: "a 201 is delivered", status: 201, want: kind{outcome: connectors.Delivered}},
		{name: "a 204 is delivered", status: 204, want: kind{outcome: connectors.Delivered}},
		{name: "a 301 handed over as an answer is dead (the destination moved)", status: 301, want: kind{outcome: connectors.Dead, status: 301}},
		{name: "a 302 handed over as an answer is dead", status: 302, want: kind{outcome: connectors.Dead, status: 302}},
		{name: "a 400 is dead", status: 400, want: kind{outcome: connectors.Dead, status: 400}},
		{name: "a 401 is dead (credentials do not fix themselves)", status: 401, want: kind{outcome: connectors.Dead, status: 401}},
		{name: "a 403 is dead", status: 403, want: kind{outcome: connectors.Dead, status: 403}},
		{name: "a 404 is dead, not gone", status: 404, want: kind{outcome: connectors.Dead, status: 404}},
		{name: "a 408 is retried", status: 408, want: kind{outcome: connectors.Retry, status: 408}},
		{name: "a 409 is dead", status: 409, want: kind{outcome: connectors.Dead, status: 409}},
		{name: "a 410 disables the destination", status: 410, want: kind{outcome: connectors.Disable, status: 410}},
		{name: "a 413 is dead (the same payload stays too large)", status: 413, want: kind{outcome: connectors.Dead, status: 413}},
		{name: "a 422 is dead", status: 422, want: kind{outcome: connectors.Dead, status: 422}},
		{name: "a 425 is retried", status: 425, want: kind{outcome: connectors.Retry, status: 425}},
		{name: "a 429 without Retry-After is retried without a hint", status: 429, want: kind{outcome: connectors.Retry, status: 429}},
		{name: "a 429 with Retry-After in seconds carries the hint", status: 429, header: retryAfterHeader("7"), want: kind{outcome: connectors.Retry, status: 429, after: 7 * time.Second}},
		{name: "a 429 with Retry-After as an HTTP date carries the time left", status: 429, header: retryAfterHeader(future), want: kind{outcome: connectors.Retry, status: 429}, afterAtLeast: 80 * time.Second},
		{name: "a 429 with an unreadable Retry-After is retried without a hint", status: 429, header: retryAfterHeader("soon"), want: kind{outcome: connectors.Retry, status: 429}},
		{name: "a 500 is retried", status: 500, want: kind{outcome: connectors.Retry, status: 500}},
		{name: "a 501 is dead (the method will stay unimplemented)", status: 501, want: kind{outcome: connectors.Dead, status: 501}},
		{name: "a 502 is retried", status: 502, want: kind{outcome: connectors.Retry, status: 502}},
		{name: "a 503 with Retry-After carries the hint", status: 503, header: retryAfterHeader("120"), want: kind{outcome: connectors.Retry, status: 503, after: 2 * time.Minute}},
		{name: "a 504 is retried", status: 504, want: kind{outcome: connectors.Retry, status: 504}},
		{name: "a 418 (any other 4xx) is dead", status: 418, want: kind{outcome: connectors.Dead, status: 418}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := connectors.ClassifyHTTP("deliver", answer(tc.status, tc.header, body), nil)
			got := kindOf(err)
			if tc.afterAtLeast > 0 {
				if got.after < tc.afterAtLeast || got.after > 90*time.Second {
					t.Fatalf("Retry-After %s read as %s, want about 90s", future, got.after)
				}
				got.after = 0
			}
			if got != tc.want {
				t.Fatalf("HTTP %d classified as %+v (%v), want %+v", tc.status, got, err, tc.want)
			}
			if tc.want.outcome == connectors.Delivered {
				if err != nil {
					t.Fatalf("HTTP %d: %v, want nil", tc.status, err)
				}
				return
			}
			want := "deliver: HTTP " + strconv.Itoa(tc.status) + ": " + oneLine
			if err.Error() != want {
				t.Fatalf("message %q, want %q (the body's start, on one line)", err, want)
			}
		})
	}
}

func TestClassifyHTTPKeepsOnlyATrimmedSnippetOfTheBody(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{name: "an empty body adds nothing", body: "", want: "deliver: HTTP 400"},
		{name: "a blank body adds nothing", body: " \n\t\r\n ", want: "deliver: HTTP 400"},
		{name: "lines and runs of spaces are folded into one line", body: "line one\n\n   line\ttwo\n", want: "deliver: HTTP 400: line one line two"},
		{name: "a long body is cut at 200 bytes", body: strings.Repeat("x", 1000), want: "deliver: HTTP 400: " + strings.Repeat("x", 200)},
		{name: "invalid UTF-8 is dropped", body: "bad \xff\xfe byte", want: "deliver: HTTP 400: bad byte"},
		{name: "a rune cut at the limit is dropped", body: strings.Repeat("x", 199) + "é and more", want: "deliver: HTTP 400: " + strings.Repeat("x", 199)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := connectors.ClassifyHTTP("deliver", answer(400, nil, tc.body), nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("message %q, want %q", err, tc.want)
			}
			if !utf8.ValidString(err.Error()) || strings.ContainsAny(err.Error(), "\r\n\t") {
				t.Fatalf("message %q is not a single line of valid UTF-8", err)
			}
		})
	}
}

func TestRetryAfterReadsSecondsAndHTTPDates(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	exactly := func(want time.Duration) func(time.Duration) bool {
		return func(got time.Duration) bool { return got == want }
	}
	// A wait too long to represent is still a long wait: never a short,
	// zero or negative one (the pipeline bounds it by retry_after_max).
	atLeastADay := func(got time.Duration) bool { return got >= 24*time.Hour }
	for _, tc := range []struct {
		name, value string
		ok          func(time.Duration) bool
	}{
		{name: "an absent header is no hint", value: "", ok: exactly(0)},
		{name: "zero seconds is no wait", value: "0", ok: exactly(0)},
		{name: "delay-seconds are read", value: "120", ok: exactly(2 * time.Minute)},
		{name: "a day in seconds is read", value: "86400", ok: exactly(24 * time.Hour)},
		{name: "an HTTP date in the future is the time left", value: date(90 * time.Second), ok: exactly(90 * time.Second)},
		{name: "an RFC 850 date in the future is read", value: now.Add(time.Hour).Format("Monday, 02-Jan-06 15:04:05 GMT"), ok: exactly(time.Hour)},
		{name: "an asctime date in the future is read", value: now.Add(time.Hour).Format(time.ANSIC), ok: exactly(time.Hour)},
		{name: "an HTTP date in the past is no hint", value: date(-time.Hour), ok: exactly(0)},
		{name: "an HTTP date equal to now is no hint", value: date(0), ok: exactly(0)},
		{name: "garbage is no hint", value: "soon", ok: exactly(0)},
		{name: "a unit is garbage", value: "30s", ok: exactly(0)},
		{name: "a fraction is garbage", value: "1.5", ok: exactly(0)},
		{name: "surrounding spaces are garbage", value: " 5 ", ok: exactly(0)},
		{name: "a negative number is no hint", value: "-5", ok: exactly(0)},
		{name: "a date in year 9999 is a long wait", value: "Fri, 31 Dec 9999 23:59:59 GMT", ok: atLeastADay},
		{name: "a delay at the edge of time.Duration is a long wait", value: "9223372036", ok: atLeastADay},
		{name: "a delay that overflows time.Duration into the negatives is a long wait", value: "9300000000", ok: atLeastADay},
		{name: "a delay that overflows time.Duration back to 290ms is a long wait", value: "18446744074", ok: atLeastADay},
		{name: "a delay past int64 is a long wait", value: "99999999999999999999", ok: atLeastADay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connectors.RetryAfter(tc.value, now); !tc.ok(got) {
				t.Fatalf("RetryAfter(%q) = %s", tc.value, got)
			}
		})
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FuzzRetryAfter: any header value reads as a wait that is never
// negative; delay-seconds are exact while small and a longer delay never
// reads as a shorter wait.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, s := range []string{
		"", "0", "1", "120", "-1", "+5", " 5", "1.5", "30s", "soon", "1e3", "0x10", "٣",
		now.Add(time.Minute).Format(http.TimeFormat), now.Add(-time.Minute).Format(http.TimeFormat),
		now.Add(time.Hour).Format(time.RFC850), now.Add(time.Hour).Format(time.ANSIC),
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
		"9223372036", "9223372037", "99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := connectors.RetryAfter(v, now)
		if got < 0 {
			t.Fatalf("RetryAfter(%q) = %s, negative", v, got)
		}
		if !allDigits(v) {
			return
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= 86400*365 && got != time.Duration(n)*time.Second {
			t.Fatalf("RetryAfter(%q) = %s, want %ds", v, got, n)
		}
		if longer := connectors.RetryAfter(v+"0", now); longer < got {
			t.Fatalf("RetryAfter(%q) = %s but RetryAfter(%q) = %s: a longer delay read as a shorter wait", v, got, v+"0", longer)
		}
	})
}

func TestHTTPConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  connectors.HTTPConfig
		keys []string
	}{
		{name: "the defaults are valid", cfg: connectors.DefaultHTTPConfig()},
		{name: "the bounds are valid", cfg: connectors.HTTPConfig{Timeout: 100 * time.Millisecond, Retries: 5}},
		{name: "both wrong report both", cfg: connectors.HTTPConfig{Timeout: time.Millisecond, Retries: -1}, keys: []string{"timeout:", "retries:"}},
		{name: "too long and too many report both", cfg: connectors.HTTPConfig{Timeout: time.Hour, Retries: 6}, keys: []string{"timeout:", "retries:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			if len(errs) != len(tc.keys) {
				t.Fatalf("Validate() = %v, want %d errors (%v)", errs, len(tc.keys), tc.keys)
			}
			for i, k := range tc.keys {
				if !strings.HasPrefix(errs[i].Error(), k) {
					t.Errorf("error %d is %q, want it prefixed by %q", i, errs[i], k)
				}
			}
		})
	}
}

// endpoint is a destination on loopback that counts its requests and
// connections.
type endpoint struct {
	*httptest.Server
	requests       atomic.Int32
	opened, closed atomic.Int32
	mu             sync.Mutex
	bodies         []string
	handle         func(n int, w http.ResponseWriter, r *http.Request)
	release        chan struct{}
	releaseOnce    sync.Once
}

func newEndpoint(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *endpoint {
	t.Helper()
	e := &endpoint{handle: handle, release: make(chan struct{})}
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(e.requests.Add(1))
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.bodies = append(e.bodies, string(b))
		e.mu.Unlock()
		e.handle(n, w, r)
	}))
	e.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			e.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			e.closed.Add(1)
		}
	}
	e.Start()
	t.Cleanup(func() {
		e.releaseOnce.Do(func() { close(e.release) })
		e.Close()
	})
	return e
}

// client is NewHTTPClient whose idle connections are released at the end.
func client(t *testing.T, cfg connectors.HTTPConfig) *resty.Client {
	c := connectors.NewHTTPClient(cfg)
	t.Cleanup(func() { connectors.CloseIdleConnections(c) })
	return c
}

func deliver(c *resty.Client, url string) error {
	resp, err := c.R().SetContext(context.Background()).
		SetHeader("Content-Type", "application/json").
		SetBody(`{"event":"lead.created"}`).
		Post(url)
	return connectors.ClassifyHTTP("deliver", resp, err)
}

// script answers each request in turn with a status (and a Retry-After),
// the last one again and again.
type reply struct {
	status     int
	retryAfter string
}

func script(replies ...reply) func(n int, w http.ResponseWriter, r *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		rp := replies[min(n, len(replies))-1]
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		w.WriteHeader(rp.status)
		_, _ = w.Write([]byte("status " + strconv.Itoa(rp.status)))
	}
}

func TestInCallRetriesAreTheConfiguredNumberAndRestyAddsNone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		retries  int
		replies  []reply
		requests int32
		want     kind
	}{
		{name: "with no retries a 503 is returned at once", retries: 0, replies: []reply{{503, ""}, {200, ""}}, requests: 1, want: kind{outcome: connectors.Retry, status: 503}},
		{name: "one retry turns a 503 then a 200 into a delivery", retries: 1, replies: []reply{{503, ""}, {200, ""}}, requests: 2, want: kind{outcome: connectors.Delivered}},
		{name: "two retries against a destination that stays down make three requests", retries: 2, replies: []reply{{503, ""}}, requests: 3, want: kind{outcome: connectors.Retry, status: 503}},
		{name: "three retries ride out a 500 and a 502", retries: 3, replies: []reply{{500, ""}, {502, ""}, {200, ""}}, requests: 3, want: kind{outcome: connectors.Delivered}},
		{name: "a 429 asking for a second is waited for in the call", retries: 1, replies: []reply{{429, "1"}, {201, ""}}, requests: 2, want: kind{outcome: connectors.Delivered}},
		{name: "a 429 asking for three seconds is left to the durable schedule", retries: 3, replies: []reply{{429, "3"}}, requests: 1, want: kind{outcome: connectors.Retry, status: 429, after: 3 * time.Second}},
		{name: "a 503 asking for two minutes is left to the durable schedule", retries: 3, replies: []reply{{503, "120"}}, requests: 1, want: kind{outcome: connectors.Retry, status: 503, after: 2 * time.Minute}},
		{name: "a 400 is never retried", retries: 3, replies: []reply{{400, ""}}, requests: 1, want: kind{outcome: connectors.Dead, status: 400}},
		{name: "a 501 is never retried", retries: 3, replies: []reply{{501, ""}}, requests: 1, want: kind{outcome: connectors.Dead, status: 501}},
		{name: "a 410 is never retried", retries: 3, replies: []reply{{410, ""}}, requests: 1, want: kind{outcome: connectors.Disable, status: 410}},
		{name: "a 408 is retried later, not in the call", retries: 3, replies: []reply{{408, ""}}, requests: 1, want: kind{outcome: connectors.Retry, status: 408}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, script(tc.replies...))
			c := client(t, connectors.HTTPConfig{Timeout: 10 * time.Second, Retries: tc.retries})
			err := deliver(c, e.URL+"/hook")
			if got := kindOf(err); got != tc.want {
				t.Fatalf("classified as %+v (%v), want %+v", got, err, tc.want)
			}
			if got := e.requests.Load(); got != tc.requests {
				t.Fatalf("%d requests, want %d (retries: %d)", got, tc.requests, tc.retries)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			for i, b := range e.bodies {
				if b != `{"event":"lead.created"}` {
					t.Fatalf("request %d carried %q, want the whole body on every attempt", i+1, b)
				}
			}
		})
	}
}

func TestAConnectionDroppedWithoutAnAnswerIsRetriedInTheCallThenRetryable(t *testing.T) {
	e := newEndpoint(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	c := client(t, connectors.HTTPConfig{Timeout: 10 * time.Second, Retries: 2})
	err := deliver(c, e.URL+"/hooks/SECRET-TOKEN")
	if got := kindOf(err); got != (kind{outcome: connectors.Retry}) {
		t.Fatalf("classified as %+v (%v), want retryable without a status", got, err)
	}
	if got := e.requests.Load(); got != 3 {
		t.Fatalf("%d requests, want 3 (one and two retries)", got)
	}
	if strings.Contains(err.Error(), "SECRET-TOKEN") || strings.Contains(err.Error(), "/hooks") {
		t.Fatalf("message %q shows the URL", err)
	}
}

func TestARefusedConnectionIsRetryableWithoutTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c := client(t, connectors.HTTPConfig{Timeout: 5 * time.Second, Retries: 1})
	err = deliver(c, "http://"+addr+"/hooks/SECRET-TOKEN")
	if got := kindOf(err); got != (kind{outcome: connectors.Retry}) {
		t.Fatalf("classified as %+v (%v), want retryable without a status", got, err)
	}
	if strings.Contains(err.Error(), "SECRET-TOKEN") {
		t.Fatalf("message %q shows the URL", err)
	}
}

func TestADestinationThatHangsPastTheTimeoutIsRetryableWithinAboutTheTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	var e *endpoint
	e = newEndpoint(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-e.release:
		}
	})
	c := client(t, connectors.HTTPConfig{Timeout: timeout, Retries: 2})
	start := time.Now()
	err := deliver(c, e.URL+"/hooks/SECRET-TOKEN")
	took := time.Since(start)
	if got := kindOf(err); got != (kind{outcome: connectors.Retry}) {
		t.Fatalf("classified as %+v (%v), want retryable without a status", got, err)
	}
	if took < timeout || took > 10*timeout {
		t.Fatalf("gave up after %s, want about the %s timeout", took, timeout)
	}
	if !strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "SECRET-TOKEN") {
		t.Fatalf("message %q, want it to say the call timed out, without the URL", err)
	}
	// The timeout bounds the call, retries included: nothing is left to
	// retry once it has run out.
	if got := e.requests.Load(); got != 1 {
		t.Fatalf("%d requests, want 1", got)
	}
}

func TestARedirectIsAnAnswerAndIsNotFollowed(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run("HTTP "+strconv.Itoa(status)+" is dead with its status", func(t *testing.T) {
			var followed atomic.Int32
			e := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					followed.Add(1)
					_, _ = w.Write([]byte("a page that says yes to anything"))
					return
				}
				http.Redirect(w, r, "/elsewhere", status)
			})
			c := client(t, connectors.HTTPConfig{Timeout: 5 * time.Second, Retries: 2})
			err := deliver(c, e.URL+"/hook")
			if n := followed.Load(); n != 0 {
				t.Fatalf("the redirect was followed %d times", n)
			}
			if got := e.requests.Load(); got != 1 {
				t.Fatalf("%d requests, want 1 (a redirect is not retried)", got)
			}
			if got := kindOf(err); got != (kind{outcome: connectors.Dead, status: status}) {
				t.Fatalf("classified as %+v (%v), want dead with HTTP status %d", got, err, status)
			}
			if !strings.Contains(err.Error(), "HTTP "+strconv.Itoa(status)) {
				t.Fatalf("message %q, want the status in it", err)
			}
		})
	}
}

func TestResponseBodiesAreClosedSoOneConnectionServesEveryAnswer(t *testing.T) {
	const bigBody = 3 << 10 // under retryablehttp's 4 KiB drain limit
	var retried atomic.Int32
	e := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/retried":
			// a 503, then a 200 to its in-call retry
			if retried.Add(1)%2 == 1 {
				w.WriteHeader(503)
				_, _ = w.Write([]byte(strings.Repeat("r", bigBody)))
				return
			}
			_, _ = w.Write([]byte("ok"))
		case "/ok":
			_, _ = w.Write([]byte(strings.Repeat("y", bigBody)))
		case "/created":
			w.WriteHeader(201)
		case "/empty":
			w.WriteHeader(204)
		case "/bad":
			w.WriteHeader(400)
			_, _ = w.Write([]byte(strings.Repeat("b", bigBody)))
		case "/gone":
			w.WriteHeader(410)
			_, _ = w.Write([]byte("gone"))
		case "/later":
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(strings.Repeat("l", bigBody)))
		case "/down":
			w.WriteHeader(503)
			_, _ = w.Write([]byte(strings.Repeat("d", bigBody)))
		}
	})
	c := client(t, connectors.HTTPConfig{Timeout: 5 * time.Second, Retries: 1})
	paths := []string{"/ok", "/created", "/empty", "/bad", "/gone", "/later", "/retried"}
	for range 3 {
		for _, p := range paths {
			_ = deliver(c, e.URL+p)
		}
	}
	if got, want := e.requests.Load(), int32(3*(len(paths)+1)); got != want {
		t.Fatalf("%d requests, want %d (the 503 once retried)", got, want)
	}
	// Each answer's body was read and closed, or its connection could not
	// have served the next request.
	if got := e.opened.Load(); got != 1 {
		t.Fatalf("%d connections for %d sequential requests, want 1: a body was left open", got, e.requests.Load())
	}
	// Giving up after the last in-call retry, retryablehttp closes the
	// pool's idle connections (a new one may follow), and the last
	// answer's body is still closed.
	for range 3 {
		_ = deliver(c, e.URL+"/down")
		_ = deliver(c, e.URL+"/ok")
	}
	connectors.CloseIdleConnections(c)
	deadline := time.Now().Add(5 * time.Second)
	for e.closed.Load() != e.opened.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections still open after CloseIdleConnections: a body holds one", e.opened.Load()-e.closed.Load(), e.opened.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
