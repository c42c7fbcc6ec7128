package providerapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

const token = "tok-s3cr3t-value"

// server answers with the given statuses in turn (the last one repeats).
func server(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		answers[min(i, len(answers)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func testClient() *Client {
	cfg := DefaultConfig()
	cfg.Timeout = 5 * time.Second
	return New(cfg)
}

func get(t *testing.T, base string, f *mapping.FetchRequest) ([]byte, error) {
	t.Helper()
	return testClient().Get(context.Background(), Credentials{Base: base, Token: token}, f)
}

func TestResponsesAreClassifiedForTheDurableSchedule(t *testing.T) {
	tests := []struct {
		name          string
		answers       []func(http.ResponseWriter, *http.Request)
		wantCalls     int32
		wantDoc       bool
		temporary     bool
		permanent     bool
		notFound      bool
		retryAfter    time.Duration
		reasonContain string
	}{
		{name: "a JSON 200 is the document", answers: []func(http.ResponseWriter, *http.Request){status(200, `{"id":"1"}`)}, wantCalls: 1, wantDoc: true},
		{name: "a 502 then a 200 is retried within the call", answers: []func(http.ResponseWriter, *http.Request){status(502, ""), status(200, `{}`)}, wantCalls: 2, wantDoc: true},
		{name: "a 500 that persists is retried twice, then left to the schedule", answers: []func(http.ResponseWriter, *http.Request){status(500, `{"message":"boom"}`)},
			wantCalls: 3, temporary: true, reasonContain: "HTTP 500 (boom)"},
		{name: "a 429 with a long Retry-After is not waited for in the call", answers: []func(http.ResponseWriter, *http.Request){status(429, "", "Retry-After", "30")},
			wantCalls: 1, temporary: true, retryAfter: 30 * time.Second},
		{name: "a 404 is a missing document", answers: []func(http.ResponseWriter, *http.Request){status(404, `{"error":{"message":"Unsupported get request"}}`)},
			wantCalls: 1, permanent: true, notFound: true, reasonContain: "Unsupported get request"},
		{name: "a 400 (Meta's test lead, code 100) is permanent", answers: []func(http.ResponseWriter, *http.Request){status(400, `{"error":{"message":"Invalid lead id","code":100}}`)},
			wantCalls: 1, permanent: true, reasonContain: "Invalid lead id"},
		{name: "a 401 is retried later: a token can be fixed", answers: []func(http.ResponseWriter, *http.Request){status(401, "")},
			wantCalls: 1, temporary: true, reasonContain: "api_token"},
		{name: "a 200 that is not JSON is retried later", answers: []func(http.ResponseWriter, *http.Request){status(200, "<html>proxy</html>")},
			wantCalls: 1, temporary: true, reasonContain: "not JSON"},
		{name: "a 501 is permanent", answers: []func(http.ResponseWriter, *http.Request){status(501, "")}, wantCalls: 1, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := server(t, tt.answers...)
			doc, err := get(t, srv.URL, &mapping.FetchRequest{Name: "lead", Path: "/v21.0/123?fields=id", Auth: "bearer"})
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if tt.wantDoc {
				if err != nil || len(doc) == 0 {
					t.Fatalf("doc=%s err=%v", doc, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Temporary() != tt.temporary || e.Permanent() != tt.permanent || e.NotFound() != tt.notFound || e.RetryAfter() != tt.retryAfter {
				t.Errorf("temporary=%v permanent=%v notFound=%v retryAfter=%s", e.Temporary(), e.Permanent(), e.NotFound(), e.RetryAfter())
			}
			if !strings.Contains(e.Error(), tt.reasonContain) || strings.Contains(e.Error(), token) {
				t.Errorf("reason %q", e.Error())
			}
		})
	}
}

func TestTheTokenIsSentAsTheFetchSays(t *testing.T) {
	tests := []struct {
		auth, want string
		read       func(r *http.Request) string
	}{
		{"bearer", "Bearer " + token, func(r *http.Request) string { return r.Header.Get("Authorization") }},
		{"header:X-API-TOKEN", token, func(r *http.Request) string { return r.Header.Get("X-Api-Token") }},
		{"query:access_token", token, func(r *http.Request) string { return r.URL.Query().Get("access_token") }},
		{"basic", "agent@example.com/token|" + token, func(r *http.Request) string { u, p, _ := r.BasicAuth(); return u + "|" + p }},
	}
	for _, tt := range tests {
		t.Run(tt.auth, func(t *testing.T) {
			var got, version string
			srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
				got, version = tt.read(r), r.Header.Get("LinkedIn-Version")
				_, _ = w.Write([]byte(`{}`))
			})
			cred := Credentials{Base: srv.URL + "/", Token: token}
			if tt.auth == "basic" {
				cred.Token = "agent@example.com/token:" + token
			}
			_, err := testClient().Get(context.Background(), cred, &mapping.FetchRequest{Name: "x", Path: "/a?b=1", Auth: tt.auth,
				Headers: map[string]string{"LinkedIn-Version": "202503"}})
			if err != nil || got != tt.want || version != "202503" {
				t.Fatalf("got %q (version %q), err %v; want %q", got, version, err, tt.want)
			}
		})
	}
}

func TestAFailedConnectionNamesNeitherURLNorToken(t *testing.T) {
	srv, _ := server(t, status(200, `{}`))
	srv.Close()
	_, err := get(t, srv.URL, &mapping.FetchRequest{Name: "contact", Path: "/c/1", Auth: "query:access_token"})
	var e *Error
	if !errors.As(err, &e) || !e.Temporary() || strings.Contains(err.Error(), token) || strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v", err)
	}
}

func TestWithoutATokenTheCallGoesOutBareAndARefusalIsFinal(t *testing.T) {
	var auth string
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}, status(401, ""))
	cred := Credentials{Base: srv.URL}
	if doc, err := testClient().Get(context.Background(), cred, &mapping.FetchRequest{Name: "lead", Path: "/x", Auth: "bearer"}); err != nil || auth != "" || string(doc) != `{"ok":true}` {
		t.Fatalf("doc=%s err=%v auth=%q", doc, err, auth)
	}
	_, err := testClient().Get(context.Background(), cred, &mapping.FetchRequest{Name: "lead", Path: "/x", Auth: "bearer"})
	var e *Error
	if !errors.As(err, &e) || !e.Permanent() || !strings.Contains(err.Error(), "no api_token") {
		t.Fatalf("err = %v", err)
	}
	if _, err := testClient().Get(context.Background(), Credentials{Token: token}, &mapping.FetchRequest{Name: "lead", Path: "/x"}); err == nil ||
		!strings.Contains(err.Error(), "api_base") {
		t.Fatalf("without a base: %v", err)
	}
}
