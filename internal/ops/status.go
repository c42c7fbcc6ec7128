package ops

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"path"
	"sync"
	"time"
)

// The status page: GET /status is a small self-contained page (its
// script, style sheet and icon are embedded, served under /status/, and
// nothing comes from elsewhere) that charts GET /status.json every 5 s.
// Like /metrics it is unauthenticated, so it shows counts and the names of
// sources, stages and destinations only: no secrets, no personal data.

//go:embed status
var statusFiles embed.FS

// statusAssets are the files under /status/ and their media types.
var statusAssets = map[string]string{
	"app.js":   "text/javascript; charset=utf-8",
	"app.css":  "text/css; charset=utf-8",
	"icon.svg": "image/svg+xml",
}

// statusCSP allows the page's own files only: no inline script or style,
// nothing from another origin.
const statusCSP = "default-src 'self'; script-src 'self'; style-src 'self'"

// sectionTimeout bounds each data source of one /status.json answer
// unless StatusSources.Timeout says otherwise.
const sectionTimeout = 2 * time.Second

// SourceHealth is one webhook source's requests since this process
// started (per replica).
type SourceHealth struct {
	Name string `json:"name"`
	// LastRequest is nil when the source sent nothing since start.
	LastRequest *time.Time `json:"last_request"`
	Accepted    int64      `json:"accepted"`
	Rejected    int64      `json:"rejected"`
	// RejectedBy splits Rejected by reason class (signature, invalid,
	// rate_limited, unavailable, unknown_source).
	RejectedBy        map[string]int64 `json:"rejected_by"`
	SignatureFailures int64            `json:"signature_failures"`
}

// StageCount is one bar of the funnel: the customers now in a stage.
type StageCount struct {
	Stage     string `json:"stage"`
	Customers int64  `json:"customers"`
}

// StreamLag is what the relay has still to publish to Kafka.
type StreamLag struct {
	UnpublishedEvents        int64   `json:"unpublished_events"`
	OldestUnpublishedSeconds float64 `json:"oldest_unpublished_seconds"`
}

// DestinationStatus is one outbound destination's delivery backlog.
type DestinationStatus struct {
	Name                 string  `json:"name"`
	Pending              int64   `json:"pending"`
	Delivering           int64   `json:"delivering"`
	Dead                 int64   `json:"dead"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	// Disabled: the destination answered that it is gone; deliveries wait
	// for a replay.
	Disabled bool `json:"disabled"`
}

// SourcesFunc reads the in-process per-source tracker.
type SourcesFunc func() []SourceHealth

// FunnelSource returns the funnel's bars, in ladder order.
type FunnelSource func(ctx context.Context) ([]StageCount, error)

// LagSource returns the unpublished events and the oldest one's age.
type LagSource func(ctx context.Context) (count int64, oldest time.Duration, err error)

// DeliveriesSource returns every destination's backlog.
type DeliveriesSource func(ctx context.Context) ([]DestinationStatus, error)

// StatusSources feed the status page. A nil one shows as unavailable
// ("not configured"); one that fails shows as unavailable with its error,
// and the others still show.
type StatusSources struct {
	Sources    SourcesFunc
	Funnel     FunnelSource
	StreamLag  LagSource
	Deliveries DeliveriesSource
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Timeout bounds each source's read for one answer (0: 2 s).
	Timeout time.Duration
}

// Section is one part of /status.json: its data, or why it is unavailable.
type Section[T any] struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Data  T      `json:"data"`
}

// Status is the /status.json document.
type Status struct {
	GeneratedAt time.Time `json:"generated_at"`
	// StartedAt is when this process started counting requests: the
	// sources section counts from then, on this replica only.
	StartedAt  time.Time                    `json:"started_at"`
	Sources    Section[[]SourceHealth]      `json:"sources"`
	Funnel     Section[[]StageCount]        `json:"funnel"`
	Stream     Section[*StreamLag]          `json:"stream"`
	Deliveries Section[[]DestinationStatus] `json:"deliveries"`
}

var errNotConfigured = errors.New("not configured")

// statusPage assembles and serves the page and its data.
type statusPage struct {
	src     StatusSources
	started time.Time
}

// EnableStatus serves the status page (GET /status, its files under
// /status/) and its data (GET /status.json) from src.
func (s *Server) EnableStatus(src StatusSources) {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Timeout <= 0 {
		src.Timeout = sectionTimeout
	}
	p := &statusPage{src: src, started: src.Now()}
	s.mux.HandleFunc("GET /status", p.page)
	s.mux.HandleFunc("GET /status/{file}", p.asset)
	s.mux.HandleFunc("GET /status.json", p.data)
}

// secure sets the headers every status response carries.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", statusCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

func (p *statusPage) page(w http.ResponseWriter, _ *http.Request) {
	p.file(w, "index.html", "text/html; charset=utf-8")
}

func (p *statusPage) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ctype, ok := statusAssets[name]
	if !ok {
		secure(w)
		http.NotFound(w, r)
		return
	}
	p.file(w, name, ctype)
}

func (p *statusPage) file(w http.ResponseWriter, name, ctype string) {
	b, err := statusFiles.ReadFile(path.Join("status", name))
	secure(w)
	if err != nil {
		http.Error(w, "missing embedded file "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	// Always revalidated: a page from before an upgrade must not mix with
	// the new script.
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b) // #nosec G705 -- the page's own embedded files, nothing from the request
}

func (p *statusPage) data(w http.ResponseWriter, r *http.Request) {
	st := p.collect(r.Context())
	secure(w)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
}

// collect reads every source at once, each within the timeout; a failing
// source fails its own section only.
func (p *statusPage) collect(ctx context.Context) Status {
	st := Status{GeneratedAt: p.src.Now().UTC(), StartedAt: p.started.UTC()}
	var wg sync.WaitGroup
	wg.Go(func() { st.Sources = sourcesSection(p.src.Sources) })
	wg.Go(func() { st.Funnel = read(ctx, p.src.Timeout, p.src.Funnel) })
	wg.Go(func() { st.Stream = read(ctx, p.src.Timeout, streamLag(p.src.StreamLag)) })
	wg.Go(func() { st.Deliveries = read(ctx, p.src.Timeout, p.src.Deliveries) })
	wg.Wait()
	return st
}

func sourcesSection(f SourcesFunc) Section[[]SourceHealth] {
	if f == nil {
		return Section[[]SourceHealth]{Error: errNotConfigured.Error(), Data: []SourceHealth{}}
	}
	items := f()
	if items == nil {
		items = []SourceHealth{}
	}
	return Section[[]SourceHealth]{OK: true, Data: items}
}

// streamLag adapts a LagSource to a section's reader (nil stays nil).
func streamLag(f LagSource) func(context.Context) (*StreamLag, error) {
	if f == nil {
		return nil
	}
	return func(ctx context.Context) (*StreamLag, error) {
		n, oldest, err := f(ctx)
		if err != nil {
			return nil, err
		}
		return &StreamLag{UnpublishedEvents: n, OldestUnpublishedSeconds: oldest.Seconds()}, nil
	}
}

// read runs one section's source within timeout.
func read[T any, F ~func(context.Context) (T, error)](ctx context.Context, timeout time.Duration, f F) Section[T] {
	if f == nil {
		return Section[T]{Error: errNotConfigured.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		var zero T
		return Section[T]{Error: err.Error(), Data: zero}
	}
	return Section[T]{OK: true, Data: v}
}
