package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/cyclehub/cyclehub/mapping"
)

// Inbox makes raw requests durable. Append returns only after the request
// is committed; duplicate reports a redelivery that was already stored.
type Inbox interface {
	Append(ctx context.Context, raw *mapping.RawRequest) (duplicate bool, err error)
	// Reject stores a request refused as malformed, for inspection.
	Reject(ctx context.Context, raw *mapping.RawRequest, reason string) error
}

// Claim is the verdict of the dedup fast path.
type Claim int

// Dedup verdicts.
const (
	// ClaimOwned: go ahead, then call Done or Release.
	ClaimOwned Claim = iota
	// ClaimInFlight: the same delivery is being stored right now.
	ClaimInFlight
	// ClaimSeen: the delivery is already stored.
	ClaimSeen
)

// Dedup is the fast path of deduplication (Redis). An error means "not
// known": the request goes on to the inbox, whose unique key decides.
type Dedup interface {
	Claim(ctx context.Context, source, key string) (Claim, error)
	Done(ctx context.Context, source, key string) error
	Release(ctx context.Context, source, key string) error
}

// Handler serves POST /hooks/{source}.
type Handler struct {
	cfg Config
	// sources is swapped whole when the mappings are reloaded.
	sources atomic.Pointer[map[string]*source]
	configs map[string]SourceConfig
	// limiters are the sources' rate limits, by name (absent: none).
	limiters map[string]*rate.Limiter
	inbox    Inbox
	dedup    Dedup
	log      *logrus.Entry
	now      func() time.Time
	// clock drives the rate limits: always the wall clock in the daemon,
	// whatever now says (tests sign recorded samples with a fixed now).
	clock func() time.Time
	// slots holds a token per webhook being verified and stored
	// (http.max_inflight; nil: no cap).
	slots chan struct{}
	// OnRequest, when set, observes every answered request. source is
	// "_unknown" for unknown sources so labels stay bounded.
	OnRequest func(source string, status int, took time.Duration)
}

// NewHandler returns the ingest handler for the configured sources, with
// the compiled mappings by provider. dedup may be nil (PostgreSQL alone
// then deduplicates).
func NewHandler(cfg Config, sources map[string]SourceConfig, specs map[string]*mapping.Compiled, inbox Inbox,
	dedup Dedup, log *logrus.Entry, now func() time.Time) *Handler {
	h := &Handler{cfg: cfg, configs: sources, inbox: inbox, dedup: dedup, log: log, now: now, clock: time.Now,
		limiters: map[string]*rate.Limiter{}}
	if cfg.MaxInflight > 0 {
		h.slots = make(chan struct{}, cfg.MaxInflight)
	}
	for name, sc := range sources {
		if lim := newLimiter(sc.RateLimit); lim != nil {
			h.limiters[name] = lim
		}
	}
	h.SetMappings(specs)
	return h
}

// SetMappings switches to reloaded mappings; requests in flight finish
// with the ones they started with.
func (h *Handler) SetMappings(specs map[string]*mapping.Compiled) {
	m := make(map[string]*source, len(h.configs))
	for name, sc := range h.configs {
		src := newSource(name, sc)
		src.spec = specs[sc.MappingName()]
		src.limiter = h.limiters[name]
		m[name] = src
	}
	h.sources.Store(&m)
}

// Register adds the ingest routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("/hooks/{source}", h.serve)
	// The source token as a last path segment, for tools whose webhook
	// setting takes a bare URL (Delighted, Unbounce).
	mux.HandleFunc("/hooks/{source}/{token}", h.serve)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("source")
	src, ok := (*h.sources.Load())[name]
	label := name
	if !ok {
		label = "_unknown"
	}
	status := h.ingest(w, r, src)
	if h.OnRequest != nil {
		h.OnRequest(label, status, time.Since(start))
	}
}

// ingest answers one request and returns the status it sent. The checks
// run in a fixed order: source, rate limit, handshake, method, size,
// authenticity, media type and form, test pings, duplicates, and only
// then the durable write that earns the 2xx.
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, src *source) int {
	if src == nil {
		return writeError(w, http.StatusNotFound, "unknown_source", "no source named "+quote(r.PathValue("source"))+" is configured")
	}
	// Before anything costs: no body is read, no signature computed.
	if ok, wait := admit(src.limiter, h.clock()); !ok {
		return tooManyRequests(w, src.name, wait)
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && src.provider.Handshake != nil {
		rec := &statusRecorder{ResponseWriter: w}
		if src.provider.Handshake(src.cfg, rec, r) {
			return rec.status()
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not accepted here; send POST")
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return tooLarge(w, h.cfg.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return tooLarge(w, h.cfg.MaxBodyBytes)
		}
		return writeError(w, http.StatusBadRequest, "unreadable_body", "could not read the request body")
	}
	// The costly part (verification, Redis, the commit) only within the cap.
	release, ok := h.acquire(r.Context())
	if !ok {
		return overloaded(w, h.cfg.InflightWait, "too many requests are being handled")
	}
	defer release()
	now := h.now()
	if code, err := src.check(r, body, now); err != nil {
		return writeError(w, http.StatusUnauthorized, code, err.Error())
	}

	raw := h.rawRequest(r, src, body, now)
	key, ignored, err := src.decode(raw)
	if err != nil {
		return h.refuse(w, r, src, raw, err)
	}
	if ignored {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": "provider test or ping"})
	}
	if strings.HasPrefix(key, "sha256:") {
		// A content hash only deduplicates within the window (a browser's
		// double submit), never the same answers sent again next week:
		// the key names the window, and the twin of the window before
		// counts too.
		bucket := now.UnixNano() / int64(h.cfg.DedupWindow)
		raw.PriorDedupKey = key + ":" + itoa(bucket-1)
		key += ":" + itoa(bucket)
	}
	raw.DedupKey = key

	claimed := false
	if h.dedup != nil {
		switch c, err := h.dedup.Claim(r.Context(), src.name, key); {
		case err != nil:
			h.log.WithError(err).Debug("dedup fast path unavailable; relying on the inbox key")
		case c == ClaimSeen:
			return writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate"})
		case c == ClaimInFlight:
			w.Header().Set("Retry-After", "1")
			return writeError(w, http.StatusServiceUnavailable, "delivery_in_flight", "the same delivery is being stored right now; retry shortly")
		default:
			claimed = true
		}
	}
	duplicate, err := h.inbox.Append(r.Context(), raw)
	if err != nil {
		if claimed {
			if rerr := h.dedup.Release(r.Context(), src.name, key); rerr != nil {
				h.log.WithError(rerr).Debug("dedup release failed; the claim expires by itself")
			}
		}
		var busy interface{ RetryAfter() time.Duration }
		if errors.As(err, &busy) && busy.RetryAfter() > 0 {
			// Shed at the door: the commit queue is longer than the inbox
			// may make a sender wait. Logged at debug: under overload this
			// is every excess request, and the 503s are counted.
			h.log.WithError(err).WithField("source", src.name).Debug("inbox overloaded; answering 503")
			return overloaded(w, busy.RetryAfter(), "too many requests are waiting to be stored")
		}
		h.log.WithError(err).WithField("source", src.name).Warn("inbox unavailable; answering 503")
		w.Header().Set("Retry-After", "5")
		return writeError(w, http.StatusServiceUnavailable, "storage_unavailable", "the request could not be stored; retry later")
	}
	if claimed {
		if err := h.dedup.Done(r.Context(), src.name, key); err != nil {
			h.log.WithError(err).Debug("dedup mark failed; the inbox key still deduplicates")
		}
	}
	if duplicate {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate"})
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "request_id": raw.RequestID})
}

// refuse answers a body that is not what it claims to be: 415 for a media
// type the provider does not send, 400 with the reason otherwise (the
// request is kept, status rejected, for inspection).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, src *source, raw *mapping.RawRequest, err error) int {
	var unsupported *mapping.UnsupportedMediaError
	if errors.As(err, &unsupported) {
		return writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error())
	}
	if rerr := h.inbox.Reject(r.Context(), raw, err.Error()); rerr != nil {
		h.log.WithError(rerr).WithField("source", src.name).Error("could not store a rejected request")
	}
	reason := err.Error()
	var m *mapping.MalformedError
	if errors.As(err, &m) {
		reason = m.Reason
	}
	return writeJSON(w, http.StatusBadRequest, map[string]string{
		"error": "malformed_body", "message": reason, "request_id": raw.RequestID,
	})
}

func (h *Handler) rawRequest(r *http.Request, src *source, body []byte, now time.Time) *mapping.RawRequest {
	headers := make(map[string]string, len(src.keep))
	for _, name := range src.keep {
		if v := r.Header.Values(name); len(v) > 0 {
			headers[name] = strings.Join(v, ", ")
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	return &mapping.RawRequest{
		NeedsFetch: src.spec != nil && src.spec.NeedsFetch(),
		RequestID:  id.String(),
		Source:     src.name,
		Provider:   src.cfg.Provider,
		Method:     r.Method,
		Path:       "/hooks/" + src.name, // never the path token
		Query:      redactQuery(r.URL.RawQuery),
		Headers:    headers,
		Body:       body,
		ReceivedAt: now.UTC(),
	}
}

// redactQuery drops credentials from a query string before it is stored.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	for _, k := range []string{"token", "access_token", "api_key", "key", "secret"} {
		q.Del(k)
	}
	return q.Encode()
}

func tooLarge(w http.ResponseWriter, limit int64) int {
	return writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
		"the request body exceeds the limit of "+itoa(limit)+" bytes")
}

func writeError(w http.ResponseWriter, status int, code, msg string) int {
	return writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

// statusRecorder remembers the status a handshake wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// acquire takes a place among the requests being handled, waiting up to
// http.inflight_wait; ok is false when none freed up in time.
func (h *Handler) acquire(ctx context.Context) (release func(), ok bool) {
	if h.slots == nil {
		return func() {}, true
	}
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, true
	default:
	}
	t := time.NewTimer(h.cfg.InflightWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// overloaded answers 503 overloaded with Retry-After: backpressure, nothing
// was stored.
func overloaded(w http.ResponseWriter, retry time.Duration, why string) int {
	setRetryAfter(w, retry)
	return writeError(w, http.StatusServiceUnavailable, "overloaded", why+"; nothing was stored, retry after the Retry-After delay")
}
