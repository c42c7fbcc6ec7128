package webhooks

import (
	"io"
	"net/http"
)

// handshakeMeta answers Meta's subscription check: GET
// ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=… is answered 200
// with the challenge as a text/plain body when the verify token matches
// the source's VerifyToken, and 403 otherwise. A GET without hub.mode is
// not a handshake.
func handshakeMeta(cfg SourceConfig, w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	q := r.URL.Query()
	if !q.Has("hub.mode") {
		return false
	}
	if q.Get("hub.mode") != "subscribe" {
		writeError(w, http.StatusForbidden, "forbidden", `hub.mode must be "subscribe"`)
		return true
	}
	if cfg.VerifyToken.IsZero() {
		writeError(w, http.StatusForbidden, "forbidden", "this source has no verify_token configured")
		return true
	}
	if !cfg.VerifyToken.Equal(q.Get("hub.verify_token")) {
		writeError(w, http.StatusForbidden, "forbidden", "hub.verify_token does not match")
		return true
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "missing hub.challenge")
		return true
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// The challenge is echoed verbatim; never let a browser sniff it as HTML.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// #nosec G705 -- Meta's protocol echoes the challenge; it goes out as text/plain with nosniff, never as HTML
	_, _ = io.WriteString(w, challenge)
	return true
}
