package webhooks

import (
	"net/http"
	"time"
)

// verifyTally checks Tally-Signature (base64 HMAC-SHA256 of the body) when
// the source has a Secret. Tally signs only webhooks given a signing
// secret, so a source without one falls back to the per-source token (HTTP
// Basic password or ?token=), checked by the same code as for providers
// that sign nothing.
func verifyTally(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error {
	if cfg.Secret.IsZero() {
		if err := (&source{cfg: cfg}).authenticate(r); err != nil {
			return &AuthError{Reason: err.Error()}
		}
		return nil
	}
	return tallySignature.verify(cfg, r, body, now)
}
