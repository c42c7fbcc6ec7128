package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"time"

	"github.com/cyclehub/cyclehub/webhooks"
)

// signer authenticates one request the way its provider does: it sets the
// signature header (and the signed timestamp, when the scheme has one) for
// body, sent at now.
type signer func(h http.Header, body []byte, now time.Time)

// signerFor returns how requests to a source of provider with cfg are
// authenticated, deciding as the daemon does (webhooks.source.signed): a
// provider with a verifier signs unless it signs optionally and the source
// has no secret; otherwise the source token, if any, goes in HTTP Basic.
// Google Ads' key travels in the body (source.go puts it there).
func signerFor(provider string, cfg webhooks.SourceConfig) (signer, error) {
	p, ok := webhooks.Providers()[provider]
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	if p.Verify == nil || p.SignsOptionally && cfg.Secret.IsZero() {
		if cfg.Token.IsZero() {
			return func(http.Header, []byte, time.Time) {}, nil
		}
		token := cfg.Token.Reveal()
		return func(h http.Header, _ []byte, _ time.Time) {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("cyclehub-load:"+token)))
		}, nil
	}
	key := []byte(cfg.Secret.Reveal())
	switch provider {
	case "google_ads":
		return func(http.Header, []byte, time.Time) {}, nil
	case "typeform":
		// Typeform-Signature: "sha256=" + base64 HMAC-SHA256(secret, body).
		return bodySigner("Typeform-Signature", "sha256=", sha256.New, b64, key), nil
	case "tally":
		// Tally-Signature: base64 HMAC-SHA256(secret, body).
		return bodySigner("Tally-Signature", "", sha256.New, b64, key), nil
	case "intercom":
		// X-Hub-Signature: "sha1=" + hex HMAC-SHA1(client secret, body).
		return bodySigner("X-Hub-Signature", "sha1=", sha1.New, hex.EncodeToString, key), nil
	case "helpscout":
		// X-HelpScout-Signature: base64 HMAC-SHA1(secret, body).
		return bodySigner("X-HelpScout-Signature", "", sha1.New, b64, key), nil
	case "webflow":
		// x-webflow-signature: hex HMAC-SHA256(secret, ts + ":" + body),
		// ts in Unix milliseconds.
		return func(h http.Header, body []byte, now time.Time) {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			h.Set("X-Webflow-Timestamp", ts)
			h.Set("X-Webflow-Signature", hex.EncodeToString(hmacOf(sha256.New, key, []byte(ts+":"), body)))
		}, nil
	case "zendesk":
		// X-Zendesk-Webhook-Signature: base64 HMAC-SHA256(secret, ts + body),
		// ts ISO-8601 in seconds.
		return func(h http.Header, body []byte, now time.Time) {
			ts := now.UTC().Format(time.RFC3339)
			h.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
			h.Set("X-Zendesk-Webhook-Signature", b64(hmacOf(sha256.New, key, []byte(ts), body)))
		}, nil
	}
	return nil, fmt.Errorf("provider %s signs its requests, and the generator cannot sign them (supported: %s)", provider, supportedNames())
}

// bodySigner signs the body alone: header = prefix + encode(HMAC(key, body)).
func bodySigner(header, prefix string, h func() hash.Hash, encode func([]byte) string, key []byte) signer {
	return func(hd http.Header, body []byte, _ time.Time) {
		hd.Set(header, prefix+encode(hmacOf(h, key, body)))
	}
}

func hmacOf(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
