package webhooks

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// verifyZendesk checks X-Zendesk-Webhook-Signature = base64
// HMAC-SHA256(secret, timestamp + body), with no separator, where the
// timestamp is the ISO-8601 X-Zendesk-Webhook-Signature-Timestamp and must
// be within the source's Tolerance (5 minutes by default).
func verifyZendesk(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error {
	const sigHeader, tsHeader = "X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"
	got, err := requireHeader(r, sigHeader)
	if err != nil {
		return err
	}
	ts, err := requireHeader(r, tsHeader)
	if err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return authErrorf("%s is not an ISO-8601 time like 2025-03-14T11:40:12Z", tsHeader)
	}
	if err := checkFresh(tsHeader, at, now, tolerance(cfg)); err != nil {
		return err
	}
	key, err := secretKey(cfg)
	if err != nil {
		return err
	}
	want := base64.StdEncoding.EncodeToString(macOf(sha256.New, key, []byte(ts), body))
	return compareSignature(sigHeader, got, want)
}
