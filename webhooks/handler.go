package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// Inbox makes raw requests durable. Append returns only after the request
// is committed; duplicate reports a redelivery that was already stored.
type Inbox interface {
	Append(ctx context.Context, raw *mapping.RawRequest) (duplicate bool, err error)
	// Reject stores a request refused as malformed, for inspection.
	Reject(ctx context.Context, raw *mapping.RawRequest, reason string) error
}

// Handler serves POST /hooks/{source}.
type Handler struct {
	cfg     Config
	sources map[string]*source
	inbox   Inbox
	log     *logrus.Entry
	now     func() time.Time
	// OnRequest, when set, observes every answered request. source is
	// "_unknown" for unknown sources so labels stay bounded.
	OnRequest func(source string, status int, took time.Duration)
}

// NewHandler returns the ingest handler for the configured sources.
func NewHandler(cfg Config, sources map[string]SourceConfig, inbox Inbox, log *logrus.Entry, now func() time.Time) *Handler {
	h := &Handler{cfg: cfg, sources: map[string]*source{}, inbox: inbox, log: log, now: now}
	for name, sc := range sources {
		h.sources[name] = newSource(name, sc)
	}
	return h
}

// Register adds the ingest routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("/hooks/{source}", h.serve)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("source")
	src, ok := h.sources[name]
	label := name
	if !ok {
		label = "_unknown"
	}
	status := h.ingest(w, r, src)
	if h.OnRequest != nil {
		h.OnRequest(label, status, time.Since(start))
	}
}

// ingest answers one request and returns the status it sent.
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, src *source) int {
	if src == nil {
		return writeError(w, http.StatusNotFound, "unknown_source", "no source named "+quote(r.PathValue("source"))+" is configured")
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
	if err := src.authenticate(r); err != nil {
		return writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
	}

	raw := h.rawRequest(r, src, body)
	if err := src.verify(r.Header.Get("Content-Type"), body); err != nil {
		var unsupported *mapping.UnsupportedMediaError
		if errors.As(err, &unsupported) {
			return writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error())
		}
		// Kept for inspection: the sender may need to be told what it sent.
		if rerr := h.inbox.Reject(r.Context(), raw, err.Error()); rerr != nil {
			h.log.WithError(rerr).WithField("source", src.name).Error("could not store a rejected request")
		}
		var m *mapping.MalformedError
		reason := err.Error()
		if errors.As(err, &m) {
			reason = m.Reason
		}
		return writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": "malformed_body", "message": reason, "request_id": raw.RequestID,
		})
	}

	duplicate, err := h.inbox.Append(r.Context(), raw)
	if err != nil {
		h.log.WithError(err).WithField("source", src.name).Warn("inbox unavailable; answering 503")
		w.Header().Set("Retry-After", "5")
		return writeError(w, http.StatusServiceUnavailable, "storage_unavailable", "the request could not be stored; retry later")
	}
	if duplicate {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate"})
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "request_id": raw.RequestID})
}

func (h *Handler) rawRequest(r *http.Request, src *source, body []byte) *mapping.RawRequest {
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
		RequestID:  id.String(),
		Source:     src.name,
		Provider:   src.cfg.Provider,
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      redactQuery(r.URL.RawQuery),
		Headers:    headers,
		Body:       body,
		ReceivedAt: h.now().UTC(),
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
