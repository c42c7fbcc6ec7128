package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/ops"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

// chromiumPath is Debian's chromium (scripts/devstack.sh up installs it).
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium tab with what its pages wrote to the
// console (calls, uncaught exceptions, browser log entries such as CSP
// violations and failed loads), and the CSP violations the pages saw.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	log []chromedp.ConsoleMessage
}

// newBrowser starts Chromium for t (skipped without it, failed in CI).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testsvc.Require(t, "chromium", chromiumPath+" is missing (scripts/devstack.sh up installs Debian's chromium)")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx) // starts the browser and opens the tab
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.log = append(b.log, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit, before its profile is removed
		<-done
	})
	// Record CSP violations in the page too, before any of its scripts run.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		_, err := cdp.Call(ctx, tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = [];
			document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
		})
		return err
	})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// problems returns the console messages that are errors, exceptions or
// mention the Content-Security-Policy.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.log {
		if m.Type == chromedp.ConsoleError || m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}

// statusView is what the status page shows, read from its DOM.
type statusView struct {
	State         string   `json:"state"`
	BannerHidden  bool     `json:"bannerHidden"`
	Banner        string   `json:"banner"`
	Sources       []string `json:"sources"`
	Accepted      string   `json:"accepted"`
	Rejected      string   `json:"rejected"`
	Signature     string   `json:"signature"`
	Bars          int      `json:"bars"`
	FilledBars    int      `json:"filledBars"`
	ChartLabel    string   `json:"chartLabel"`
	Deliveries    bool     `json:"deliveries"`
	Destinations  []string `json:"destinations"`
	StreamEvents  string   `json:"streamEvents"`
	Unavailable   []string `json:"unavailable"`
	CSPViolations []string `json:"csp"`
}

const readStatusView = `(() => {
	const q = s => document.querySelector(s), qa = s => Array.from(document.querySelectorAll(s));
	const row = q('#sources-body tr[data-source="typeform"]');
	const cell = c => row ? row.querySelector('td.' + c).firstChild.textContent.trim() : "";
	return {
		state: document.body.dataset.state,
		bannerHidden: q('#banner').hidden,
		banner: q('#banner').textContent,
		sources: qa('#sources-body tr[data-source]').map(r => r.dataset.source),
		accepted: cell('accepted'), rejected: cell('rejected'), signature: cell('signature'),
		bars: qa('#funnel-chart rect.bar').length,
		filledBars: qa('#funnel-chart rect.bar').filter(b => Number(b.getAttribute('width')) > 0).length,
		chartLabel: q('#funnel-chart').getAttribute('aria-label'),
		deliveries: !!q('section#deliveries h2') && !!q('#deliveries-table caption'),
		destinations: qa('#deliveries-body tr[data-destination]').map(r => r.dataset.destination),
		streamEvents: q('#stream-events').textContent,
		unavailable: qa('.unavailable').filter(e => !e.hidden).map(e => e.closest('section').id + ": " + e.textContent),
		csp: window.__csp || [],
	};
})()`

// open loads url and waits until the page reached state (ready or
// error), returning what it shows.
func (b *browser) open(t *testing.T, url, state string) statusView {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[statusView](readStatusView))
		if err == nil && v.State == state {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach state %q within 15s: %+v %v; console: %v", url, state, v, err, b.problems())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The status page of a real daemon, in headless Chromium: a signed
// webhook and one with a bad signature show on the source's row, the
// customer it made is a bar of the funnel, the destination is listed, and
// the page runs under its CSP without a console error.
func TestStatusPageShowsTheDaemonInHeadlessChromium(t *testing.T) {
	b := newBrowser(t)
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pgtest.URL(t), brokers)
	cfg.Sources["typeform"] = webhooks.SourceConfig{Provider: "typeform", Secret: "typeform-test-secret"}
	crm := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	cfg.Destinations = map[string]configs.DestinationConfig{"crm": webhookDestination(crm.URL, 2*time.Second)}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	d := startDaemon(t, cfg)

	d.send("typeform", npsAnswer("status-page@example.com", 9))
	forged, _ := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+"/hooks/typeform",
		strings.NewReader(npsAnswer("forged@example.com", 10)))
	forged.Header.Set("Content-Type", "application/json")
	forged.Header.Set("Typeform-Signature", "sha256=bm90IHRoZSByaWdodCBzaWduYXR1cmUgYXQgYWxsIQ==")
	if code, out := do(t, forged); code != http.StatusUnauthorized {
		t.Fatalf("a bad signature: %d %v, want 401", code, out)
	}
	d.waitCustomer("status-page@example.com")

	for _, path := range []string{"/status", "/status/app.js", "/status.json"} {
		resp, err := http.Get("http://" + d.opsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK ||
			resp.Header.Get("Content-Security-Policy") != "default-src 'self'; script-src 'self'; style-src 'self'" ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %d with CSP %q, X-Content-Type-Options %q", path, resp.StatusCode,
				resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Content-Type-Options"))
		}
	}

	v := b.open(t, "http://"+d.opsAddr+"/status", "ready")
	t.Logf("the page shows: %+v", v)
	if v.Accepted != "1" || v.Signature != "1" || v.Rejected != "1" {
		t.Errorf("typeform row: accepted %q, rejected %q, signature failures %q; want 1, 1, 1", v.Accepted, v.Rejected, v.Signature)
	}
	if strings.Join(v.Sources, ",") != "form,secured,typeform" {
		t.Errorf("source rows = %v, want every configured source", v.Sources)
	}
	if v.Bars < 8 || v.FilledBars < 1 || !strings.Contains(v.ChartLabel, "lead") {
		t.Errorf("funnel: %d bars, %d filled, label %q; want the ladder's 8 stages and the new customer's bar", v.Bars, v.FilledBars, v.ChartLabel)
	}
	if !v.Deliveries || strings.Join(v.Destinations, ",") != "crm" {
		t.Errorf("deliveries section %v with destinations %v, want crm", v.Deliveries, v.Destinations)
	}
	if len(v.Unavailable) > 0 || !v.BannerHidden {
		t.Errorf("unavailable sections %v, banner %q: want none with every service up", v.Unavailable, v.Banner)
	}
	if len(v.CSPViolations) > 0 {
		t.Errorf("CSP violations: %v", v.CSPViolations)
	}
	if p := b.problems(); len(p) > 0 {
		t.Errorf("console errors: %v", p)
	}
}

// When a data source fails, its section says it is unavailable and the
// others still show; when status.json itself cannot be read, a banner
// says so.
func TestStatusPageShowsWhatIsUnavailableInHeadlessChromium(t *testing.T) {
	b := newBrowser(t)
	srv := ops.New(prometheus.NewRegistry())
	srv.EnableStatus(ops.StatusSources{
		Sources: func() []ops.SourceHealth {
			return []ops.SourceHealth{{Name: "form", Accepted: 5, RejectedBy: map[string]int64{}}}
		},
		Funnel: func(context.Context) ([]ops.StageCount, error) {
			return nil, errors.New("stage counts: failed to connect to PostgreSQL")
		},
		StreamLag:  func(context.Context) (int64, time.Duration, error) { return 3, time.Minute, nil },
		Deliveries: func(context.Context) ([]ops.DestinationStatus, error) { return []ops.DestinationStatus{}, nil },
	})
	var broken atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() && r.URL.Path == "/status.json" {
			http.Error(w, "gone", http.StatusBadGateway)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer web.Close()

	v := b.open(t, web.URL+"/status", "ready")
	if len(v.Unavailable) != 1 || !strings.Contains(v.Unavailable[0], "funnel: Unavailable: stage counts: failed to connect") {
		t.Errorf("unavailable sections = %v, want the funnel's with its error", v.Unavailable)
	}
	if v.Bars != 0 || strings.Join(v.Sources, ",") != "form" || v.StreamEvents != "3" || !v.BannerHidden {
		t.Errorf("the other sections should show: %+v", v)
	}
	if p := b.problems(); len(p) > 0 || len(v.CSPViolations) > 0 {
		t.Errorf("console errors %v, CSP violations %v", p, v.CSPViolations)
	}

	broken.Store(true)
	v = b.open(t, web.URL+"/status", "error")
	if v.BannerHidden || !strings.Contains(v.Banner, "Could not load the status data (HTTP 502)") {
		t.Errorf("banner hidden %v, text %q: want it to say the data could not be loaded", v.BannerHidden, v.Banner)
	}
}
