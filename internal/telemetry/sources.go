package telemetry

import (
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Reason classes of a refused webhook request (SourceHealth.RejectedBy).
const (
	// RejectSignature: the signature or token check failed (401), or a
	// handshake presented the wrong verify token (403).
	RejectSignature = "signature"
	// RejectInvalid: the request itself was wrong: malformed body (400),
	// method (405), size (413), media type (415) or another 4xx.
	RejectInvalid = "invalid"
	// RejectRateLimited: the source's rate limit refused it (429).
	RejectRateLimited = "rate_limited"
	// RejectUnavailable: storage could not take it, or the same delivery
	// was in flight (503 and other 5xx); the provider retries.
	RejectUnavailable = "unavailable"
	// RejectUnknownSource: no source of that name (404), under "_unknown".
	RejectUnknownSource = "unknown_source"
)

// SourceHealth is one webhook source's record since the process started,
// on this replica only.
type SourceHealth struct {
	Source string
	// LastRequest is when the source's last request was answered (zero:
	// none since start).
	LastRequest time.Time
	// Accepted counts 2xx answers: stored, duplicates, test pings and
	// handshakes.
	Accepted int64
	// Rejected counts every other answer; RejectedBy splits it by reason
	// class (Reject* constants).
	Rejected   int64
	RejectedBy map[string]int64
	// SignatureFailures is RejectedBy[RejectSignature].
	SignatureFailures int64
}

// Sources tracks each webhook source's health in process: when it last
// sent a request, and how the requests were answered. Counts start at
// zero with the process and are per replica. It is safe for concurrent
// use.
type Sources struct {
	now func() time.Time

	mu    sync.Mutex
	state map[string]*SourceHealth
}

// NewSources returns a tracker listing the configured sources (so a source
// that never sent anything shows too), reading the time from now.
func NewSources(now func() time.Time, configured ...string) *Sources {
	s := &Sources{now: now, state: map[string]*SourceHealth{}}
	for _, name := range configured {
		s.entry(name)
	}
	return s
}

// ObserveRequest records an answered webhook request; its signature is
// the ingest handler's OnRequest.
func (s *Sources) ObserveRequest(source string, status int, _ time.Duration) {
	at := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.entry(source)
	if at.After(h.LastRequest) {
		h.LastRequest = at
	}
	if status >= 200 && status < 300 {
		h.Accepted++
		return
	}
	class := RejectClass(status)
	h.Rejected++
	h.RejectedBy[class]++
	if class == RejectSignature {
		h.SignatureFailures++
	}
}

// entry returns source's record, creating it; s.mu must be held (or s not
// yet shared).
func (s *Sources) entry(source string) *SourceHealth {
	h, ok := s.state[source]
	if !ok {
		h = &SourceHealth{Source: source, RejectedBy: map[string]int64{}}
		s.state[source] = h
	}
	return h
}

// Snapshot returns a copy of every source's record, by name.
func (s *Sources) Snapshot() []SourceHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SourceHealth, 0, len(s.state))
	for _, name := range slices.Sorted(maps.Keys(s.state)) {
		h := *s.state[name]
		h.RejectedBy = maps.Clone(h.RejectedBy)
		out = append(out, h)
	}
	return out
}

// RejectClass names the reason class of a refused request's status.
func RejectClass(status int) string {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return RejectSignature
	case status == http.StatusNotFound:
		return RejectUnknownSource
	case status == http.StatusTooManyRequests:
		return RejectRateLimited
	case status >= 500:
		return RejectUnavailable
	default:
		return RejectInvalid
	}
}
