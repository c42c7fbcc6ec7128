package webhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// handshakeLinkedIn answers LinkedIn's webhook validation: GET
// ?challengeCode=X is answered 200 with the JSON
// {"challengeCode":X,"challengeResponse":hex(HMAC-SHA256(client secret, X))}.
// LinkedIn allows 3 s and re-validates every 2 h. A GET without
// challengeCode is not a handshake.
func handshakeLinkedIn(cfg SourceConfig, w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	q := r.URL.Query()
	if !q.Has("challengeCode") {
		return false
	}
	code := q.Get("challengeCode")
	if code == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "challengeCode is empty")
		return true
	}
	key, err := secretKey(cfg)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "misconfigured", "this source has no secret configured")
		return true
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"challengeCode":     code,
		"challengeResponse": hex.EncodeToString(macOf(sha256.New, key, []byte(code))),
	})
	return true
}
