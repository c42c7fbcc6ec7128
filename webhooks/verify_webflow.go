package webhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// verifyWebflow checks x-webflow-signature = hex HMAC-SHA256(secret,
// x-webflow-timestamp + ":" + body), the timestamp in Unix milliseconds and
// within the replay window.
func verifyWebflow(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error {
	const sigHeader, tsHeader = "X-Webflow-Signature", "X-Webflow-Timestamp"
	got, err := requireHeader(r, sigHeader)
	if err != nil {
		return err
	}
	ts, err := requireHeader(r, tsHeader)
	if err != nil {
		return err
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return authErrorf("%s is not a Unix time in milliseconds", tsHeader)
	}
	if err := checkFresh(tsHeader, time.UnixMilli(ms), now, tolerance(cfg)); err != nil {
		return err
	}
	key, err := secretKey(cfg)
	if err != nil {
		return err
	}
	want := hex.EncodeToString(macOf(sha256.New, key, []byte(ts), []byte(":"), body))
	return compareSignature(sigHeader, got, want)
}
