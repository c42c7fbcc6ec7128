package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

// A source over its rate limit is answered 429 with Retry-After, the
// refusal is counted by source and code, and the other sources are not
// limited.
func TestASourceOverItsRateLimitIsAnswered429AndCounted(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pgtest.URL(t), brokers)
	// One request every 100 s after a burst of two: the third is refused.
	cfg.Sources["limited"] = webhooks.SourceConfig{Provider: "form", RateLimit: &webhooks.RateLimit{RPS: 0.01, Burst: 2}}
	d := startDaemon(t, cfg)

	for i, want := range []int{http.StatusAccepted, http.StatusAccepted, http.StatusTooManyRequests} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+"/hooks/limited", strings.NewReader(fmt.Sprintf(`{"email":"limited-%d@example.com"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		_ = decodeJSON(resp, &body)
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d %v, want %d", i+1, resp.StatusCode, body, want)
		}
		if want == http.StatusTooManyRequests && (resp.Header.Get("Retry-After") != "100" || body["error"] != "rate_limited") {
			t.Fatalf("429 with Retry-After %q and %v, want 100 and rate_limited", resp.Header.Get("Retry-After"), body)
		}
	}
	if code, out := d.post("/hooks/form", "application/json", `{"email":"unlimited@example.com"}`); code != http.StatusAccepted {
		t.Fatalf("another source: %d %v", code, out)
	}
	metrics := metricsText(t, d.opsAddr)
	for _, want := range []string{
		`cyclehub_ingest_requests_total{code="429",source="limited"} 1`,
		`cyclehub_ingest_requests_total{code="202",source="limited"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
