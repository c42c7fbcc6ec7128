package slacksink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/connectors/conformance"
	"github.com/cyclehub/cyclehub/connectors/slacksink"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
)

// tokenPath is a webhook path whose token the tests look for in errors.
const tokenPath = "/services/T0SECRETTEAM/B0SECRETHOOK/xoxTOKENtoken123456"

// newSink returns a started sink posting to base+tokenPath, without
// in-call retries (the suite scripts every answer).
func newSink(t *testing.T, base string, templates map[string]string) *slacksink.Sink {
	t.Helper()
	cfg := slacksink.DefaultConfig()
	cfg.URL = secret.Secret(base + tokenPath)
	cfg.HTTP.Retries, cfg.HTTP.Timeout = 0, 5*time.Second
	for k, v := range templates {
		cfg.Templates[k] = v
	}
	s, err := slacksink.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Connect(context.Background()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// byIdempotencyKey reads the event id of a conformance record from its
// Idempotency-Key ("test:<event id>").
func byIdempotencyKey(r *http.Request, _ []byte) []string {
	return []string{strings.TrimPrefix(r.Header.Get("Idempotency-Key"), "test:")}
}

func TestTheSlackSinkPassesTheConformanceSuite(t *testing.T) {
	conformance.Run(t, conformance.Features{
		MaxBatch: 1,
		New: func(t *testing.T) (connectors.Connector, conformance.Destination) {
			d := conformance.NewHTTPDestination(t, byIdempotencyKey)
			cfg := slacksink.DefaultConfig()
			cfg.URL = secret.Secret(d.URL + tokenPath)
			cfg.HTTP.Retries = 0 // the suite's 503 must reach the caller
			c, err := slacksink.Kind.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return c, d
		},
	})
}

// customer is Ana Lima of Lima Consultoria, at version 5.
func customer() *mapping.Customer {
	c := &mapping.Customer{ID: "0190c0de-0000-7000-8000-00000000a11a", Version: 5, Traits: map[string]mapping.TraitValue{
		"email": {Value: "ana@lima.example"}, "first_name": {Value: "Ana"}, "last_name": {Value: "Lima"},
		"company": {Value: "Lima Consultoria"},
	}}
	return c
}

var at = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)

// record is the outbox record of ce for c, with c's contact when
// withContact.
func record(t *testing.T, c *mapping.Customer, ce *mapping.CloudEvent, err error, withContact bool) mapping.OutboxRecord {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := mapping.MarshalCloudEvent(ce)
	if err != nil {
		t.Fatal(err)
	}
	r := mapping.OutboxRecord{ID: 1, EventID: ce.ID, CustomerID: c.ID, Type: ce.Type, Sequence: c.Version, Time: ce.Time,
		Payload: payload, IdempotencyKey: "slack-1:" + ce.ID, Attempt: 1}
	if withContact {
		r.Contact = mapping.ContactOf(c)
	}
	return r
}

func stageChanged(t *testing.T, c *mapping.Customer, from, to, rule string, withContact bool) mapping.OutboxRecord {
	c.Lifecycle.Stage = to
	ce, err := mapping.StageChangedEvent(c, mapping.LifecycleChange{StageFrom: from, StageTo: to, StageRule: rule,
		Direction: "forward"}, mapping.PhaseQualification, mapping.Trigger{Source: "crm", EventType: "deal_created", OccurredAt: at})
	return record(t, c, ce, err, withContact)
}

func scoreChanged(t *testing.T, c *mapping.Customer, ch mapping.LifecycleChange) mapping.OutboxRecord {
	ce, err := mapping.ScoreChangedEvent(c, ch, mapping.Trigger{Source: "product", EventType: "usage_dropped", OccurredAt: at})
	return record(t, c, ce, err, true)
}

func created(t *testing.T, c *mapping.Customer) mapping.OutboxRecord {
	ce, err := mapping.ChangedEvent(c, mapping.Change{Created: true, ChangedTraits: []string{"email"}},
		mapping.Trigger{Source: "form", EventType: "form_submitted", OccurredAt: at})
	return record(t, c, ce, err, true)
}

func TestMessagesAreRenderedFromTheEventAndTheContact(t *testing.T) {
	for _, tc := range []struct {
		name      string
		templates map[string]string
		rec       func(t *testing.T) mapping.OutboxRecord
		want      string
	}{{
		name: "a stage change names the person, their company, both stages and the rule",
		rec: func(t *testing.T) mapping.OutboxRecord {
			return stageChanged(t, customer(), "marketingqualifiedlead", "salesqualifiedlead", "sql", true)
		},
		want: "*Ana Lima* (Lima Consultoria) is now *salesqualifiedlead* (from marketingqualifiedlead, rule sql)",
	}, {
		name: "a stage change without a contact names the customer by id and leaves the company out",
		rec: func(t *testing.T) mapping.OutboxRecord {
			return stageChanged(t, customer(), "marketingqualifiedlead", "salesqualifiedlead", "sql", false)
		},
		want: "*customer 0190c0de-0000-7000-8000-00000000a11a* is now *salesqualifiedlead* (from marketingqualifiedlead, rule sql)",
	}, {
		name: "a first stage without a previous stage or rule leaves the parenthesis out",
		rec:  func(t *testing.T) mapping.OutboxRecord { return stageChanged(t, customer(), "", "lead", "", true) },
		want: "*Ana Lima* (Lima Consultoria) is now *lead*",
	}, {
		name: "a contact with only an email is named by it",
		rec: func(t *testing.T) mapping.OutboxRecord {
			c := customer()
			delete(c.Traits, "first_name")
			delete(c.Traits, "last_name")
			delete(c.Traits, "company")
			return stageChanged(t, c, "lead", "marketingqualifiedlead", "mql", true)
		},
		want: "*ana@lima.example* is now *marketingqualifiedlead* (from lead, rule mql)",
	}, {
		name: "a per-stage template wins over the generic stage template",
		templates: map[string]string{
			"stage_changed":          "{{.Name}} moved to {{.Data.to_stage}}",
			"stage_changed:customer": ":tada: *{{.Name}}* is a customer now (after {{duration .Data.time_in_previous_stage_seconds}} as {{.Data.from_stage}})",
		},
		rec: func(t *testing.T) mapping.OutboxRecord {
			c := customer()
			c.Lifecycle.Stage = "customer"
			ce, err := mapping.StageChangedEvent(c, mapping.LifecycleChange{StageFrom: "opportunity", StageTo: "customer",
				StageRule: "won", TimeInPrevious: 72 * time.Hour}, mapping.PhaseQualification, mapping.Trigger{OccurredAt: at})
			return record(t, c, ce, err, true)
		},
		want: ":tada: *Ana Lima* is a customer now (after 3d as opportunity)",
	}, {
		name: "the generic stage template serves the stages without their own",
		templates: map[string]string{
			"stage_changed":          "{{.Name}} moved to {{.Data.to_stage}}",
			"stage_changed:customer": ":tada: {{.Name}}",
		},
		rec: func(t *testing.T) mapping.OutboxRecord {
			return stageChanged(t, customer(), "lead", "opportunity", "opp", true)
		},
		want: "Ana Lima moved to opportunity",
	}, {
		name: "a score change to at_risk warns with the band and status moves",
		rec: func(t *testing.T) mapping.OutboxRecord {
			return scoreChanged(t, customer(), mapping.LifecycleChange{BandFrom: "warm", BandTo: "cold",
				StatusFrom: "active", StatusTo: "at_risk"})
		},
		want: ":warning: *Ana Lima* (Lima Consultoria): band *cold* (was warm), status *at_risk* (was active)",
	}, {
		name: "a score change crossing thresholds only lists them",
		rec: func(t *testing.T) mapping.OutboxRecord {
			return scoreChanged(t, customer(), mapping.LifecycleChange{Crossed: []string{"fit", "engagement"}})
		},
		want: "*Ana Lima* (Lima Consultoria): scores changed (fit, engagement crossed a threshold)",
	}, {
		name: "other event types use the default template",
		rec:  func(t *testing.T) mapping.OutboxRecord { return created(t, customer()) },
		want: "*Ana Lima* (Lima Consultoria): customer created",
	}, {
		name:      "a configured default template replaces the built-in one",
		templates: map[string]string{"default": "{{.Short}} ({{.Type}}) {{.Subject}}"},
		rec:       func(t *testing.T) mapping.OutboxRecord { return created(t, customer()) },
		want:      "created (cyclehub.customer.created.v1) customer/0190c0de-0000-7000-8000-00000000a11a",
	}, {
		name: "a name or company cannot mention the channel or forge a link",
		rec: func(t *testing.T) mapping.OutboxRecord {
			c := customer()
			c.Traits["first_name"] = mapping.TraitValue{Value: "<!channel>"}
			c.Traits["company"] = mapping.TraitValue{Value: "<https://evil.example|Acme & Co>"}
			return stageChanged(t, c, "lead", "marketingqualifiedlead", "mql", true)
		},
		want: "*&lt;!channel&gt; Lima* (&lt;https://evil.example|Acme &amp; Co&gt;) is now *marketingqualifiedlead* (from lead, rule mql)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := conformance.NewHTTPDestination(t, byIdempotencyKey)
			s := newSink(t, d.URL, tc.templates)
			rec := tc.rec(t)
			if err := s.Write(context.Background(), []mapping.OutboxRecord{rec}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := d.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if req.Method != http.MethodPost || req.Path != tokenPath {
				t.Errorf("request %s %s, want POST to the webhook path", req.Method, req.Path)
			}
			if ct := req.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if k := req.Header.Get("Idempotency-Key"); k != rec.IdempotencyKey {
				t.Errorf("Idempotency-Key %q, want %q", k, rec.IdempotencyKey)
			}
			var body map[string]any
			if err := json.Unmarshal(req.Body, &body); err != nil {
				t.Fatalf("body %s: %v", req.Body, err)
			}
			if body["text"] != tc.want {
				t.Errorf("text\n got %q\nwant %q", body["text"], tc.want)
			}
			if v, ok := body["unfurl_links"]; !ok || v != false {
				t.Errorf("unfurl_links = %v (present %v), want false", v, ok)
			}
		})
	}
}

func TestATemplateThatFailsForARecordDeadLettersItWithoutPosting(t *testing.T) {
	d := conformance.NewHTTPDestination(t, byIdempotencyKey)
	s := newSink(t, d.URL, map[string]string{"stage_changed": "{{.Data.to_stage.Name}}"})
	err := s.Write(context.Background(), []mapping.OutboxRecord{stageChanged(t, customer(), "lead", "sql", "r", true)})
	if o, _ := connectors.Classify(err); o != connectors.Dead {
		t.Fatalf("a failing template gave %v (%v), want dead", o, err)
	}
	if n := len(d.Requests()); n != 0 {
		t.Fatalf("%d requests sent for a message that could not be rendered", n)
	}
}

func TestAFewRecordsGetOneRequestEachAndAResultEach(t *testing.T) {
	d := conformance.NewHTTPDestination(t, byIdempotencyKey)
	s := newSink(t, d.URL, nil)
	recs := conformance.Records(3)
	d.FailEvent(recs[1].EventID, conformance.Permanent)
	err := s.Write(context.Background(), recs)
	var be *connectors.BatchError
	if !errors.As(err, &be) || len(be.RecordErrors()) != 3 {
		t.Fatalf("Write = %v, want a BatchError of 3", err)
	}
	errs := be.RecordErrors()
	if o, _ := connectors.Classify(errs[1]); errs[0] != nil || errs[2] != nil || o != connectors.Dead {
		t.Fatalf("record errors %v", errs)
	}
	if n := len(d.Requests()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	if err := s.Write(context.Background(), nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
}

// slack answers every request with status, body and headers.
func slack(t *testing.T, status int, body string, header map[string]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSlacksAnswersAreClassified(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		header  map[string]string
		outcome connectors.Outcome
		after   time.Duration
	}{
		{name: "ok is delivered", status: 200, body: "ok", outcome: connectors.Delivered},
		{name: "a removed webhook (404 no_service) disables the destination", status: 404, body: "no_service", outcome: connectors.Disable},
		{name: "a removed workspace (404 no_team) disables the destination", status: 404, body: "no_team", outcome: connectors.Disable},
		{name: "an archived channel (410) disables the destination", status: 410, body: "channel_is_archived", outcome: connectors.Disable},
		{name: "a 404 that is not Slack's (a proxy's page) is dead, not gone", status: 404, body: "<html>Not Found</html>", outcome: connectors.Dead},
		{name: "a prohibited post (403 action_prohibited) is dead", status: 403, body: "action_prohibited", outcome: connectors.Dead},
		{name: "a revoked token (403 invalid_token) is dead", status: 403, body: "invalid_token", outcome: connectors.Dead},
		{name: "a refused payload (400 invalid_payload) is dead", status: 400, body: "invalid_payload", outcome: connectors.Dead},
		{name: "rate limiting (429) is retried after Retry-After", status: 429, body: "rate_limited",
			header: map[string]string{"Retry-After": "7"}, outcome: connectors.Retry, after: 7 * time.Second},
		{name: "a server error (500) is retried", status: 500, body: "rollup_error", outcome: connectors.Retry},
		{name: "an unavailable Slack (503) is retried", status: 503, body: "", outcome: connectors.Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			prev := log.Writer()
			log.SetOutput(&logged) // net/http logs an answer it drops
			defer log.SetOutput(prev)
			s := newSink(t, slack(t, tc.status, tc.body, tc.header), nil)
			err := s.Write(context.Background(), conformance.Records(1))
			o, after := connectors.Classify(err)
			if o != tc.outcome || after != tc.after {
				t.Fatalf("gave %v after %s (%v), want %v after %s", o, after, err, tc.outcome, tc.after)
			}
			if err != nil && tc.body != "" && !strings.Contains(err.Error(), tc.body) {
				t.Errorf("error %q does not say Slack's reason %q", err, tc.body)
			}
			if logged.Len() > 0 {
				t.Errorf("logged %q", logged.String())
			}
		})
	}
}

func TestTheWebhookURLNeverAppearsInAnError(t *testing.T) {
	secretParts := []string{"T0SECRETTEAM", "B0SECRETHOOK", "xoxTOKEN"}
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		for _, p := range secretParts {
			if strings.Contains(err.Error(), p) || strings.Contains(fmtAll(err), p) {
				t.Fatalf("error holds the webhook token: %v", err)
			}
		}
	}
	echo := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no such hook: "+r.URL.Path, status)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ctx := context.Background()

	t.Run("an answer quoting the path", func(t *testing.T) {
		for _, status := range []int{400, 404, 410, 500} {
			err := newSink(t, echo(status), nil).Write(ctx, conformance.Records(1))
			check(t, err)
			if !strings.Contains(err.Error(), "***") {
				t.Errorf("the quoted path was not redacted: %v", err)
			}
		}
	})
	t.Run("a refused connection", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		check(t, newSink(t, base, nil).Write(ctx, conformance.Records(1)))
	})
	t.Run("a timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		cfg := slacksink.DefaultConfig()
		cfg.URL, cfg.HTTP.Timeout, cfg.HTTP.Retries = secret.Secret(srv.URL+tokenPath), 200*time.Millisecond, 0
		s, err := slacksink.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		err = s.Write(ctx, conformance.Records(1))
		check(t, err)
		if o, _ := connectors.Classify(err); o != connectors.Retry {
			t.Errorf("a timeout gave %v, want retry", o)
		}
	})
	t.Run("a message that cannot be rendered", func(t *testing.T) {
		d := conformance.NewHTTPDestination(t, byIdempotencyKey)
		s := newSink(t, d.URL, map[string]string{"stage_changed": "{{.Data.nope.deeper}}{{index .Data.x 3}}"})
		check(t, s.Write(ctx, conformance.Records(1)))
	})
	t.Run("an invalid config", func(t *testing.T) {
		cfg := slacksink.DefaultConfig()
		cfg.URL = secret.Secret("http://hooks.slack.example" + tokenPath)
		_, err := slacksink.New(cfg)
		check(t, err)
		cfg.URL = secret.Secret("https://hooks slack" + tokenPath + "%zz")
		_, err = slacksink.New(cfg)
		check(t, err)
	})
}

// fmtAll is an error as every verb a log line may use prints it.
func fmtAll(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		b.WriteString(e.Error())
	}
	return b.String()
}

func TestTheKindBuildsFromAConfigOrItsPointer(t *testing.T) {
	cfg := slacksink.DefaultConfig()
	cfg.URL = "https://hooks.slack.com" + tokenPath
	if slacksink.Kind.Name != "slack" || slacksink.Kind.MaxBatch != 1 || !slacksink.Kind.NeedsContact {
		t.Fatalf("kind %+v", slacksink.Kind)
	}
	for _, c := range []any{cfg, &cfg} {
		if _, err := slacksink.Kind.New(c); err != nil {
			t.Errorf("New(%T): %v", c, err)
		}
	}
	for _, c := range []any{(*slacksink.Config)(nil), "https://hooks.slack.com", nil} {
		if _, err := slacksink.Kind.New(c); err == nil {
			t.Errorf("New(%T) accepted it", c)
		}
	}
	if _, err := connectors.NewRegistry(slacksink.Kind); err != nil {
		t.Fatal(err)
	}
}

func TestARedirectIsNotFollowed(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Add(1)
			_, _ = w.Write([]byte("<html>a page</html>"))
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	err := newSink(t, srv.URL, nil).Write(context.Background(), conformance.Records(1))
	if o, _ := connectors.Classify(err); o != connectors.Dead || followed.Load() != 0 {
		t.Fatalf("a redirect gave %v (%v) after %d GETs, want dead without following it", o, err, followed.Load())
	}
}

func TestCloseReleasesTheIdleConnections(t *testing.T) {
	closed := make(chan struct{}, 8)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := slacksink.DefaultConfig()
	cfg.URL = secret.Secret(srv.URL + tokenPath)
	s, err := slacksink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), conformance.Records(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection is still open after Close")
	}
}
