package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (standardwebhooks.com).
const (
	standardIDHeader        = "Webhook-Id"
	standardTimestampHeader = "Webhook-Timestamp"
	standardSignatureHeader = "Webhook-Signature"
)

// verifyStandardWebhooks checks a Standard Webhooks request: webhook-signature
// is a space-separated list of "v1,<base64 HMAC-SHA256(key, id + "." +
// timestamp + "." + body)>" entries, any of which may match (several are
// sent while a secret is rotated); webhook-timestamp is Unix seconds within
// the replay window. The key is the base64 part of a "whsec_" secret, or
// the secret's bytes as given otherwise.
func verifyStandardWebhooks(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error {
	id, err := requireHeader(r, standardIDHeader)
	if err != nil {
		return err
	}
	ts, err := requireHeader(r, standardTimestampHeader)
	if err != nil {
		return err
	}
	list, err := requireHeader(r, standardSignatureHeader)
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return authErrorf("%s is not a Unix time in seconds", standardTimestampHeader)
	}
	if err := checkFresh(standardTimestampHeader, time.Unix(sec, 0), now, tolerance(cfg)); err != nil {
		return err
	}
	key, err := standardWebhooksKey(cfg)
	if err != nil {
		return err
	}
	want := []byte(base64.StdEncoding.EncodeToString(macOf(sha256.New, key, []byte(id), []byte("."), []byte(ts), []byte("."), body)))
	matched := false
	for _, entry := range strings.Split(list, " ") {
		sig, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue // another version (v1a is asymmetric) or padding
		}
		// Every entry is compared so the time does not reveal which one matched.
		if hmac.Equal([]byte(sig), want) {
			matched = true
		}
	}
	if !matched {
		return authErrorf("no v1 signature in %s matches the request body", standardSignatureHeader)
	}
	return nil
}

func standardWebhooksKey(cfg SourceConfig) ([]byte, error) {
	raw, err := secretKey(cfg)
	if err != nil {
		return nil, err
	}
	enc, ok := strings.CutPrefix(string(raw), "whsec_")
	if !ok {
		return raw, nil
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) == 0 {
		return nil, &AuthError{Reason: "the signature cannot be checked: the source secret starts with whsec_ but the rest is not base64"}
	}
	return key, nil
}
