package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cyclehub/cyclehub/internal/providerapi"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
)

// leadSpec is an id-only provider: a batch of lead ids, each lead read
// from GET /leads/{id}, its owner from GET /owners/{owner} when it has one
// (optional: a 404 leaves it out).
func leadSpec(t *testing.T) *mapping.Compiled {
	t.Helper()
	c, errs := (&mapping.Spec{
		Provider:  "leads",
		Body:      mapping.BodySpec{Format: "json"},
		Records:   "leads",
		RecordKey: mapping.ValueSpec{Template: "lead:{id}"},
		APIBase:   "https://api.example",
		Fetch: []mapping.FetchSpec{
			{Name: "lead", URL: "/leads/{id}"},
			{Name: "owner", URL: "/owners/{$lead.owner}", When: &mapping.Condition{ValueSpec: mapping.ValueSpec{Path: "$lead.owner"}}, Optional: true},
		},
		Identities: map[string]mapping.ValueSpec{"email": {Path: "$lead.email"}},
		Properties: map[string]mapping.ValueSpec{"owner": {Path: "$owner.name"}},
	}).Compile()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return c
}

// api is a loopback provider API; handle answers each call.
type api struct {
	srv   *httptest.Server
	calls atomic.Int32
	mu    sync.Mutex
	paths []string
}

func newAPI(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *api {
	a := &api{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		a.mu.Lock()
		a.paths = append(a.paths, r.URL.Path)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		handle(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// apiBySource routes a source's calls to its API, as cmd does.
type apiBySource struct {
	client *providerapi.Client
	bases  map[string]string
}

func (a apiBySource) Fetch(ctx context.Context, source string, f *mapping.FetchRequest) (json.RawMessage, error) {
	return a.client.Get(ctx, providerapi.Credentials{Base: a.bases[source], Token: "test-token"}, f)
}

// fetchHarness runs the writer, the workers and the fetcher.
func fetchHarness(t *testing.T, bases map[string]string, cfg pipeline.FetchConfig) *harness {
	t.Helper()
	sources := map[string]mapping.SourceSpec{}
	for s := range bases {
		sources[s] = mapping.SourceSpec{Provider: "leads"}
	}
	mapper := mapping.NewMapper(sources, map[string]*mapping.Compiled{"leads": leadSpec(t)})
	h, w := newHarness(t, mapper, pipeline.DefaultConfig())
	httpCfg := providerapi.DefaultConfig()
	httpCfg.Retries = 0
	f := pipeline.NewFetcher(cfg, h.st, mapper, apiBySource{providerapi.New(httpCfg), bases}, quietLog(), time.Now)
	f.OnFetched = w.Wake
	prev := h.writer.OnCommit
	h.writer.OnCommit = func() { prev(); f.Wake() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func fastFetch() pipeline.FetchConfig {
	cfg := pipeline.DefaultFetchConfig()
	cfg.PollInterval = 20 * time.Millisecond
	return cfg
}

func (h *harness) postLeads(source, body string) {
	h.t.Helper()
	_, err := h.writer.Append(context.Background(), &mapping.RawRequest{
		RequestID: uuid.NewString(), Source: source, Provider: "leads", Method: "POST", Path: "/hooks/" + source,
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(body),
		ReceivedAt: time.Now().UTC(), NeedsFetch: true,
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestAnIDOnlyRequestIsFetchedStoredAndMapped(t *testing.T) {
	a := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/leads/1":
			_, _ = w.Write([]byte(`{"email":"Ana@Example.com","owner":"7"}`))
		case "/leads/2":
			_, _ = w.Write([]byte(`{"email":"bo@example.com","owner":"404"}`))
		case "/owners/7":
			_, _ = w.Write([]byte(`{"name":"Rita"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	h := fetchHarness(t, map[string]string{"leads": a.srv.URL}, fastFetch())
	// Lead 1 twice in one request: fetched once, applied once.
	h.postLeads("leads", `{"leads":[{"id":"1"},{"id":"2"},{"id":"1"}]}`)
	h.waitFor("mapped", `SELECT count(*) FROM inbox WHERE status = 'done'`, 1)
	if n := h.count(`SELECT count(*) FROM customers`); n != 2 {
		t.Fatalf("%d customers, want 2", n)
	}
	if n := h.count(`SELECT count(*) FROM timeline WHERE properties->>'owner' = 'Rita'`); n != 1 {
		t.Fatal("lead 1's owner was not mapped from the second fetch")
	}
	if n := h.count(`SELECT count(*) FROM timeline`); n != 2 {
		t.Fatalf("%d timeline entries, want 2 (the repeated lead is applied once)", n)
	}
	if n := h.count(`SELECT count(*) FROM inbox WHERE fetched->'1'->'owner' = 'null'::jsonb`); n != 1 {
		t.Fatal("the missing optional owner of lead 2 was not stored as absent")
	}
	if got := a.calls.Load(); got != 4 {
		t.Fatalf("%d API calls (%v), want 4: leads 1 and 2, owners 7 and 404", got, a.paths)
	}
	// The same lead re-batched into another delivery has no second effect.
	h.postLeads("leads", `{"leads":[{"id":"2"}],"attempt":2}`)
	h.waitFor("mapped", `SELECT count(*) FROM inbox WHERE status = 'done'`, 2)
	if n := h.count(`SELECT count(*) FROM timeline`); n != 2 {
		t.Fatalf("%d timeline entries after a re-batched delivery, want 2", n)
	}
}

func TestAFailingProviderIsRetriedLaterWithoutHoldingUpOthers(t *testing.T) {
	down := newAPI(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	up := newAPI(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"email":"ok@example.com"}`)) })
	h := fetchHarness(t, map[string]string{"down": down.srv.URL, "up": up.srv.URL}, fastFetch())
	h.postLeads("down", `{"leads":[{"id":"1"}]}`)
	h.postLeads("up", `{"leads":[{"id":"2"}]}`)
	h.waitFor("the healthy source's lead", `SELECT count(*) FROM inbox WHERE source = 'up' AND status = 'done'`, 1)
	h.waitFor("the failing source's retry", `SELECT count(*) FROM inbox WHERE source = 'down' AND attempts = 1`, 1)
	if n := h.count(`SELECT count(*) FROM inbox WHERE source = 'down' AND status = 'pending'
		AND not_before > now() + interval '100 seconds' AND reason LIKE '%HTTP 503%'`); n != 1 {
		t.Fatal("the failing fetch was not scheduled after the provider's Retry-After with its reason")
	}
}

func TestAFetchThatCannotSucceedIsQuarantinedAndARefetchingReplayRecovers(t *testing.T) {
	var fixed atomic.Bool
	a := newAPI(t, func(w http.ResponseWriter, _ *http.Request) {
		if !fixed.Load() {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid lead id","code":100}}`))
			return
		}
		_, _ = w.Write([]byte(`{"email":"late@example.com"}`))
	})
	h := fetchHarness(t, map[string]string{"leads": a.srv.URL}, fastFetch())
	h.postLeads("leads", `{"leads":[{"id":"9"}]}`)
	h.waitFor("quarantined", `SELECT count(*) FROM inbox WHERE status = 'quarantined' AND reason LIKE '%Invalid lead id%'`, 1)
	fixed.Store(true)
	id := int64(h.count(`SELECT id FROM inbox`))
	if err := h.st.Replay(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	h.waitFor("replayed", `SELECT count(*) FROM customers`, 1)
}

func TestAFetchGivesUpAfterMaxAttempts(t *testing.T) {
	a := newAPI(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	cfg := fastFetch()
	cfg.MaxAttempts = 1
	h := fetchHarness(t, map[string]string{"leads": a.srv.URL}, cfg)
	h.postLeads("leads", `{"leads":[{"id":"1"}]}`)
	h.waitFor("quarantined", `SELECT count(*) FROM inbox WHERE status = 'quarantined' AND reason LIKE '%gave up after 1 attempts%'`, 1)
}
