package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var statusNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// healthySources are fakes that all answer.
func healthySources() StatusSources {
	last := statusNow.Add(-30 * time.Second)
	return StatusSources{
		Now: func() time.Time { return statusNow },
		Sources: func() []SourceHealth {
			return []SourceHealth{
				{Name: "form", LastRequest: &last, Accepted: 3, Rejected: 1, RejectedBy: map[string]int64{"signature": 1}, SignatureFailures: 1},
				{Name: "typeform", RejectedBy: map[string]int64{}},
			}
		},
		Funnel: func(context.Context) ([]StageCount, error) {
			return []StageCount{{Stage: "lead", Customers: 2}, {Stage: "customer", Customers: 1}}, nil
		},
		StreamLag: func(context.Context) (int64, time.Duration, error) { return 7, 1500 * time.Millisecond, nil },
		Deliveries: func(context.Context) ([]DestinationStatus, error) {
			return []DestinationStatus{{Name: "crm", Pending: 4, Dead: 2, OldestPendingSeconds: 12}}, nil
		},
	}
}

func statusServer(src StatusSources) *Server {
	s := New(prometheus.NewRegistry())
	s.EnableStatus(src)
	return s
}

// getStatus answers GET /status.json and decodes it (and checks it is 200).
func getStatus(t *testing.T, s *Server) (Status, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /status.json = %d, want 200 whatever the sources do", rec.Code)
	}
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	return st, raw
}

func TestStatusJSONAssemblesEverySection(t *testing.T) {
	st, raw := getStatus(t, statusServer(healthySources()))
	if !st.GeneratedAt.Equal(statusNow) || !st.StartedAt.Equal(statusNow) {
		t.Errorf("generated_at %v, started_at %v, want both %v", st.GeneratedAt, st.StartedAt, statusNow)
	}
	if !st.Sources.OK || len(st.Sources.Data) != 2 || st.Sources.Data[0].SignatureFailures != 1 || st.Sources.Data[1].LastRequest != nil {
		t.Errorf("sources = %+v", st.Sources)
	}
	if !st.Funnel.OK || len(st.Funnel.Data) != 2 || st.Funnel.Data[0] != (StageCount{"lead", 2}) {
		t.Errorf("funnel = %+v", st.Funnel)
	}
	if !st.Stream.OK || *st.Stream.Data != (StreamLag{UnpublishedEvents: 7, OldestUnpublishedSeconds: 1.5}) {
		t.Errorf("stream = %+v", st.Stream)
	}
	if !st.Deliveries.OK || len(st.Deliveries.Data) != 1 || st.Deliveries.Data[0].Dead != 2 {
		t.Errorf("deliveries = %+v", st.Deliveries)
	}
	// The page reads these names.
	src := raw["sources"].(map[string]any)["data"].([]any)[1].(map[string]any)
	for _, k := range []string{"name", "last_request", "accepted", "rejected", "rejected_by", "signature_failures"} {
		if _, ok := src[k]; !ok {
			t.Errorf("a source has no %q: %v", k, src)
		}
	}
	if _, ok := raw["funnel"].(map[string]any)["error"]; ok {
		t.Errorf("a section that answered carries an error: %v", raw["funnel"])
	}
}

func TestEachFailingSourceFailsOnlyItsOwnSection(t *testing.T) {
	down := errors.New("stage counts: dial tcp 127.0.0.1:15432: connect: connection refused")
	hung := func(ctx context.Context) (int64, time.Duration, error) {
		<-ctx.Done()
		return 0, 0, ctx.Err()
	}
	tests := []struct {
		name   string
		change func(*StatusSources)
		check  func(t *testing.T, st Status)
	}{
		{"PostgreSQL down fails the funnel and the deliveries, not the sources", func(s *StatusSources) {
			s.Funnel = func(context.Context) ([]StageCount, error) { return nil, down }
			s.Deliveries = func(context.Context) ([]DestinationStatus, error) { return nil, down }
		}, func(t *testing.T, st Status) {
			if st.Funnel.OK || st.Funnel.Error != down.Error() || st.Deliveries.OK || st.Deliveries.Error != down.Error() {
				t.Errorf("funnel %+v, deliveries %+v: want both unavailable with the error", st.Funnel, st.Deliveries)
			}
			if !st.Sources.OK || !st.Stream.OK {
				t.Errorf("sources %+v, stream %+v: want both shown", st.Sources, st.Stream)
			}
		}},
		{"a source that hangs is cut off at the timeout, the others answer", func(s *StatusSources) {
			s.StreamLag = hung
			s.Timeout = 50 * time.Millisecond
		}, func(t *testing.T, st Status) {
			if st.Stream.OK || !strings.Contains(st.Stream.Error, "deadline exceeded") || st.Stream.Data != nil {
				t.Errorf("stream = %+v, want unavailable after the timeout", st.Stream)
			}
			if !st.Funnel.OK || !st.Deliveries.OK || !st.Sources.OK {
				t.Errorf("the other sections failed too: %+v", st)
			}
		}},
		{"a source that is not wired shows as not configured", func(s *StatusSources) {
			s.Funnel, s.Sources = nil, nil
		}, func(t *testing.T, st Status) {
			if st.Funnel.OK || st.Funnel.Error != "not configured" || st.Sources.OK || st.Sources.Error != "not configured" {
				t.Errorf("funnel %+v, sources %+v: want not configured", st.Funnel, st.Sources)
			}
			if st.Sources.Data == nil {
				t.Error("sources data is null; the page expects a list")
			}
		}},
		{"no destinations is an empty list, not an error", func(s *StatusSources) {
			s.Deliveries = func(context.Context) ([]DestinationStatus, error) { return []DestinationStatus{}, nil }
		}, func(t *testing.T, st Status) {
			if !st.Deliveries.OK || len(st.Deliveries.Data) != 0 {
				t.Errorf("deliveries = %+v", st.Deliveries)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := healthySources()
			tt.change(&src)
			st, _ := getStatus(t, statusServer(src))
			tt.check(t, st)
		})
	}
}

func TestStatusResponsesCarryTheSecurityHeaders(t *testing.T) {
	s := statusServer(healthySources())
	tests := []struct {
		path        string
		status      int
		contentType string
	}{
		{"/status", 200, "text/html; charset=utf-8"},
		{"/status/app.js", 200, "text/javascript; charset=utf-8"},
		{"/status/app.css", 200, "text/css; charset=utf-8"},
		{"/status/icon.svg", 200, "image/svg+xml"},
		{"/status.json", 200, "application/json"},
		{"/status/index.html.bak", 404, "text/plain; charset=utf-8"},
		{"/status/..%2fserver.go", 404, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			h := rec.Header()
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := h.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := h.Get("Content-Security-Policy"); got != "default-src 'self'; script-src 'self'; style-src 'self'" {
				t.Errorf("Content-Security-Policy = %q", got)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
		})
	}
}

// The page must work under its own CSP: no inline script or style, no
// inline event handlers, and nothing loaded from another origin.
func TestThePageLoadsOnlyItsOwnFiles(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "app.css", "icon.svg"} {
		b, err := statusFiles.ReadFile("status/" + name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, url := range regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+[^\s"')]*`).FindAllString(text, -1) {
			if url != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to %s: the page must work offline", name, url)
			}
		}
		if name != "index.html" {
			continue
		}
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // inline script
			regexp.MustCompile(`<style`),
			regexp.MustCompile(`\sstyle=`),
			regexp.MustCompile(`\son[a-z]+=`),
		} {
			if bad.MatchString(text) {
				t.Errorf("index.html matches %s, which the CSP blocks", bad)
			}
		}
	}
	js, _ := statusFiles.ReadFile("status/app.js")
	if strings.Contains(string(js), "innerHTML") || strings.Contains(string(js), ".style") || strings.Contains(string(js), "eval(") {
		t.Error("app.js writes HTML or inline styles, or evaluates strings")
	}
}
