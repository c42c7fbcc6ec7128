package mapping

import (
	"strings"
	"time"
)

// RawRequest is a webhook exactly as it reached the edge: the bytes that were
// verified and the headers that matter. It is what the inbox stores before the
// sender gets its 2xx, and what the pipeline maps later (or replays after a
// mapping fix).
type RawRequest struct {
	// ID is the inbox row id; zero until the request is stored.
	ID int64
	// RequestID is the public id returned to the sender and shown in logs.
	RequestID string
	// Source is the configured source name (the {source} of /hooks/{source}).
	Source string
	// Provider is the source's provider type at the time it was received.
	Provider string
	Method   string
	Path     string
	// Query is the raw query string with credentials (token=…) removed.
	Query string
	// Headers holds the kept headers, canonical names, multiple values joined
	// with ", ".
	Headers map[string]string
	Body    []byte
	// ReceivedAt is when the edge accepted the request (the ingest clock).
	ReceivedAt time.Time
	// DedupKey identifies a delivery for deduplication; empty when the
	// provider gives none and the source does not derive one.
	DedupKey string
	// PriorDedupKey, when set, is the key of the same content in the
	// previous dedup window: a request whose twin is stored under it is a
	// duplicate too, so identical bodies count as one for at least a
	// whole window, not just within one fixed bucket.
	PriorDedupKey string
	// Attempts counts earlier processing attempts that failed transiently.
	Attempts int
	// NeedsFetch says the provider sends only ids: API calls complete the
	// request before it is mapped.
	NeedsFetch bool
	// Fetched holds the documents those calls returned.
	Fetched Fetched
}

// Header returns a kept header by case-insensitive name.
func (r *RawRequest) Header(name string) string {
	if v, ok := r.Headers[name]; ok {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// ContentType returns the media type of the body without parameters,
// lowercased ("application/json").
func (r *RawRequest) ContentType() string {
	ct := r.Header("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}
