package webhooks

import (
	"encoding/json"
	"net/http"
	"time"
)

// verifyGoogleAds checks the google_key that Google Ads lead forms echo in
// the JSON body (there is no signature header) against the source Secret,
// in constant time. Only that field is decoded.
func verifyGoogleAds(cfg SourceConfig, _ *http.Request, body []byte, _ time.Time) error {
	if cfg.Secret.IsZero() {
		return &AuthError{Reason: "google_key cannot be checked: the source has no secret configured"}
	}
	var lead struct {
		GoogleKey *string `json:"google_key"`
	}
	if err := json.Unmarshal(body, &lead); err != nil {
		return &AuthError{Reason: "google_key cannot be read: the body is not a JSON object with a string google_key"}
	}
	if lead.GoogleKey == nil || *lead.GoogleKey == "" {
		return &AuthError{Reason: "missing google_key in the body"}
	}
	if !cfg.Secret.Equal(*lead.GoogleKey) {
		return &AuthError{Reason: "google_key does not match the key configured for this source"}
	}
	return nil
}
