package enrichhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors/enrichhttp"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/redisstore"
)

// api answers lookups with handle and counts them.
func api(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func cache(t *testing.T) enrichhttp.Cache {
	t.Helper()
	url, prefix := testsvc.RedisURL(t)
	cfg := redisstore.DefaultConfig()
	cfg.URL = secret.Secret(url)
	c, err := redisstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.NewCache(prefix, "enrich")
}

func config(url string) enrichhttp.Config {
	cfg := enrichhttp.DefaultConfig()
	cfg.URL = url + "/companies/find?domain={domain}"
	cfg.Traits = map[string]string{"company": "name", "industry": "category.industry", "company_size": "metrics.employeesRange"}
	return cfg
}

func event(domain string) *mapping.Event {
	return &mapping.Event{Traits: map[string]string{"company_domain": domain}}
}

func TestACompanyIsLookedUpOnceAndCached(t *testing.T) {
	var auth atomic.Value
	srv, calls := api(t, func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if r.URL.Query().Get("domain") != "acme.example" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"name":"Acme Corp","category":{"industry":"Software"},"metrics":{"employeesRange":"51-250"}}`))
	})
	cfg := config(srv.URL)
	cfg.Token = "enrich-token"
	var outcomes sync.Map
	e := enrichhttp.New(cfg, cache(t), time.Now)
	e.OnLookup = func(o string) { v, _ := outcomes.LoadOrStore(o, new(atomic.Int32)); v.(*atomic.Int32).Add(1) }
	a, b, unknown := event("acme.example"), event("acme.example"), event("nobody.example")
	e.Enrich(context.Background(), []*mapping.Event{a, b, unknown, {Traits: map[string]string{}}})
	want := map[string]string{"company": "Acme Corp", "industry": "Software", "company_size": "51-250"}
	for _, ev := range []*mapping.Event{a, b} {
		for k, v := range want {
			if ev.Enrichment[k] != v {
				t.Errorf("enrichment %v, want %v", ev.Enrichment, want)
			}
		}
	}
	if len(unknown.Enrichment) != 0 || auth.Load() != "Bearer enrich-token" {
		t.Fatalf("unknown domain %v, auth %q", unknown.Enrichment, auth)
	}
	// Both answers (found and not found) come from the cache next time.
	e.Enrich(context.Background(), []*mapping.Event{event("acme.example"), event("nobody.example")})
	if calls.Load() != 2 {
		t.Fatalf("%d API calls, want 2 (one per domain; the rest cached)", calls.Load())
	}
	if v, _ := outcomes.Load(enrichhttp.OutcomeCached); v == nil || v.(*atomic.Int32).Load() != 2 {
		t.Fatal("the second lookups did not come from the cache")
	}
}

func TestASlowAPIDoesNotHoldTheBatchPastItsBudget(t *testing.T) {
	release := make(chan struct{})
	srv, _ := api(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	cfg := config(srv.URL)
	cfg.Timeout, cfg.Budget = 2*time.Second, 150*time.Millisecond
	e := enrichhttp.New(cfg, cache(t), time.Now)
	ev := event("slow.example")
	start := time.Now()
	e.Enrich(context.Background(), []*mapping.Event{ev})
	if took := time.Since(start); took > time.Second || ev.Enrichment != nil {
		t.Fatalf("took %s, enrichment %v: the budget was not kept", took, ev.Enrichment)
	}
}

func TestAFailingAPIOpensTheBreakerAndIsLeftAloneUntilItCools(t *testing.T) {
	srv, calls := api(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	cfg := config(srv.URL)
	cfg.BreakerFailures, cfg.BreakerCooldown = 3, time.Minute
	now := time.Now()
	clock := func() time.Time { return now }
	e := enrichhttp.New(cfg, cache(t), clock)
	for i := range 10 {
		e.Enrich(context.Background(), []*mapping.Event{event("d" + string(rune('a'+i)) + ".example")})
	}
	if calls.Load() != 3 || !e.BreakerOpen() {
		t.Fatalf("%d calls, breaker open %v; want 3 then open", calls.Load(), e.BreakerOpen())
	}
	now = now.Add(2 * time.Minute) // cooled: one probe, which fails and reopens it
	e.Enrich(context.Background(), []*mapping.Event{event("probe.example")})
	e.Enrich(context.Background(), []*mapping.Event{event("probe2.example")})
	if calls.Load() != 4 || !e.BreakerOpen() {
		t.Fatalf("%d calls after the cooldown, want exactly one probe", calls.Load())
	}
}

func TestTheEventsOwnTraitsWinOverEnrichment(t *testing.T) {
	c := mapping.NewCustomer("c1", &mapping.Event{OccurredAt: time.Unix(0, 0)})
	ev := &mapping.Event{Source: "form", OccurredAt: time.Unix(10, 0), Traits: map[string]string{"company": "Acme (typed)"},
		Enrichment: map[string]string{"company": "Acme Corp", "industry": "Software"}}
	c.Apply(ev, "r1", mapping.DefaultSurvivorship())
	if c.Traits["company"].Value != "Acme (typed)" || c.Traits["industry"].Source != mapping.EnrichmentSource {
		t.Fatalf("traits %+v", c.Traits)
	}
}
