package webhooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
)

// This file signs requests the way each provider documents it, written out
// per provider and independently of the verifiers (which share helpers),
// so a mistake in the shared code cannot cancel out in the tests.

// signedAt is the time the test requests are signed at.
var signedAt = time.Date(2025, 3, 14, 11, 40, 12, 0, time.UTC)

// hubSpotTestURL is the PublicURL of the HubSpot test source.
const hubSpotTestURL = "https://hub.example.com/hooks/hubspot"

// scheme describes how one signed provider's requests are built and signed
// in the tests.
type scheme struct {
	provider string
	cfg      SourceConfig
	// target is the request target (path and query).
	target string
	// sigHeader carries the signature; tsHeader the signed timestamp ("" if
	// none); stamp formats the timestamp for tsHeader.
	sigHeader, tsHeader string
	stamp               func(time.Time) string
	// fixed are further headers every request carries.
	fixed map[string]string
	// sign returns the signature header value for body and the request's
	// other headers, with key secret.
	sign func(secret string, r *http.Request, body []byte) string
}

func hmacSHA256(key string, msg ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(bytes.Join(msg, nil))
	return m.Sum(nil)
}

func hmacSHA1(key string, msg ...[]byte) []byte {
	m := hmac.New(sha1.New, []byte(key))
	m.Write(bytes.Join(msg, nil))
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// schemes returns the signed providers as the tests sign them.
func schemes() []scheme {
	millis := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	return []scheme{
		{
			provider: "hubspot", target: "/hooks/hubspot?portal=48112233",
			cfg:       SourceConfig{Provider: "hubspot", Secret: "test-hubspot-client-secret", PublicURL: hubSpotTestURL},
			sigHeader: "X-HubSpot-Signature-v3", tsHeader: "X-HubSpot-Request-Timestamp", stamp: millis,
			sign: func(key string, r *http.Request, body []byte) string {
				uri := hubSpotTestURL + "?portal=48112233"
				return b64(hmacSHA256(key, []byte("POST"+uri), body, []byte(r.Header.Get("X-HubSpot-Request-Timestamp"))))
			},
		},
		{
			provider: "webflow", target: "/hooks/webflow",
			cfg:       SourceConfig{Provider: "webflow", Secret: "test-webflow-secret"},
			sigHeader: "x-webflow-signature", tsHeader: "x-webflow-timestamp", stamp: millis,
			sign: func(key string, r *http.Request, body []byte) string {
				return hex.EncodeToString(hmacSHA256(key, []byte(r.Header.Get("x-webflow-timestamp")+":"), body))
			},
		},
		{
			provider: "tally", target: "/hooks/tally",
			cfg:       SourceConfig{Provider: "tally", Secret: "test-tally-secret"},
			sigHeader: "Tally-Signature",
			sign:      func(key string, _ *http.Request, body []byte) string { return b64(hmacSHA256(key, body)) },
		},
		{
			provider: "meta", target: "/hooks/meta",
			cfg:       SourceConfig{Provider: "meta", Secret: "test-meta-app-secret"},
			sigHeader: "X-Hub-Signature-256",
			sign: func(key string, _ *http.Request, body []byte) string {
				return "sha256=" + hex.EncodeToString(hmacSHA256(key, body))
			},
		},
		{
			provider: "linkedin", target: "/hooks/linkedin",
			cfg:       SourceConfig{Provider: "linkedin", Secret: "test-linkedin-client-secret"},
			sigHeader: "X-LI-Signature",
			sign: func(key string, _ *http.Request, body []byte) string {
				return hex.EncodeToString(hmacSHA256(key, []byte("hmacsha256="), body))
			},
		},
		{
			provider: "zendesk", target: "/hooks/zendesk",
			cfg:       SourceConfig{Provider: "zendesk", Secret: "test-zendesk-signing-secret"},
			sigHeader: "X-Zendesk-Webhook-Signature", tsHeader: "X-Zendesk-Webhook-Signature-Timestamp",
			stamp: func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") },
			sign: func(key string, r *http.Request, body []byte) string {
				return b64(hmacSHA256(key, []byte(r.Header.Get("X-Zendesk-Webhook-Signature-Timestamp")), body))
			},
		},
		{
			provider: "intercom", target: "/hooks/intercom",
			cfg:       SourceConfig{Provider: "intercom", Secret: "test-intercom-client-secret"},
			sigHeader: "X-Hub-Signature",
			sign: func(key string, _ *http.Request, body []byte) string {
				return "sha1=" + hex.EncodeToString(hmacSHA1(key, body))
			},
		},
		{
			provider: "helpscout", target: "/hooks/helpscout",
			cfg:       SourceConfig{Provider: "helpscout", Secret: "test-helpscout-secret"},
			sigHeader: "X-HelpScout-Signature", fixed: map[string]string{"X-HelpScout-Event": "convo.created"},
			sign: func(key string, _ *http.Request, body []byte) string { return b64(hmacSHA1(key, body)) },
		},
		{
			provider: "typeform", target: "/hooks/typeform",
			cfg:       SourceConfig{Provider: "typeform", Secret: "test-typeform-secret"},
			sigHeader: "Typeform-Signature",
			sign: func(key string, _ *http.Request, body []byte) string {
				return "sha256=" + b64(hmacSHA256(key, body))
			},
		},
		{
			provider: "surveymonkey", target: "/hooks/surveymonkey",
			cfg:       SourceConfig{Provider: "surveymonkey", Secret: "test-surveymonkey-secret", ClientID: "test-client-id"},
			sigHeader: "Sm-Signature", fixed: map[string]string{"Sm-Apikey": "test-client-id"},
			sign: func(key string, _ *http.Request, body []byte) string {
				return b64(hmacSHA1("test-client-id&"+key, body))
			},
		},
		{
			provider: "events", target: "/hooks/events",
			cfg:       SourceConfig{Provider: "events", Secret: "test-standard-webhooks-secret"},
			sigHeader: "webhook-signature", tsHeader: "webhook-timestamp",
			stamp: func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },
			fixed: map[string]string{"webhook-id": "msg_2mGJ6mBXJm3ZkT0bJqUv1b9vY8c"},
			sign: func(key string, r *http.Request, body []byte) string {
				msg := r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."
				return "v1," + b64(hmacSHA256(key, []byte(msg), body))
			},
		},
	}
}

// schemeFor returns the test scheme of provider.
func schemeFor(provider string) scheme {
	for _, s := range schemes() {
		if s.provider == provider {
			return s
		}
	}
	panic("no test scheme for " + provider)
}

// request builds a POST of body signed at time at with key, without its
// signature header when key is "".
func (s scheme) request(body []byte, at time.Time, key string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, s.target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range s.fixed {
		r.Header.Set(k, v)
	}
	if s.tsHeader != "" {
		r.Header.Set(s.tsHeader, s.stamp(at))
	}
	if key != "" {
		r.Header.Set(s.sigHeader, s.sign(key, r, body))
	}
	return r
}

// secretOf is the test source's secret for s.
func (s scheme) secretOf() string { return s.cfg.Secret.Reveal() }

// withSecret returns cfg with its Secret replaced.
func withSecret(cfg SourceConfig, key string) SourceConfig {
	cfg.Secret = secret.Secret(key)
	return cfg
}

// sampleBody is a small JSON body with non-ASCII bytes, as providers send.
var sampleBody = []byte(`{"event_id":"evt_01","email":"ana.souza@example.com","name":"Ana Sousa Conceição","score":9}`)
