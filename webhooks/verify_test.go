package webhooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
)

// verifierOf returns the registered verifier of provider.
func verifierOf(t testing.TB, provider string) func(SourceConfig, *http.Request, []byte, time.Time) error {
	t.Helper()
	p, ok := Providers()[provider]
	if !ok || p.Verify == nil {
		t.Fatalf("provider %q has no verifier", provider)
	}
	return p.Verify
}

// wantAccepted fails the test unless err is nil.
func wantAccepted(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("rejected a correctly signed request: %v", err)
	}
}

// wantRejected fails the test unless err is an *AuthError whose reason
// mentions every one of mention (case-insensitively) and none of secrets.
func wantRejected(t *testing.T, err error, mention []string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted a request that must be rejected")
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AuthError", err, err)
	}
	if ae.Reason == "" || ae.Error() != ae.Reason {
		t.Fatalf("AuthError reason %q, Error() %q", ae.Reason, ae.Error())
	}
	for _, m := range mention {
		if !strings.Contains(strings.ToLower(ae.Reason), strings.ToLower(m)) {
			t.Errorf("reason %q does not mention %q", ae.Reason, m)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(ae.Reason, s) {
			t.Errorf("reason %q reveals a secret or the expected signature", ae.Reason)
		}
	}
}

// flipChar changes one character in the middle of s to another of the
// same hex/base64 alphabet, so the value stays well formed but wrong.
func flipChar(s string) string {
	i := len(s) / 2
	c := byte('0')
	if s[i] == '0' {
		c = '1'
	}
	return s[:i] + string(c) + s[i+1:]
}

// flipByte returns b with one byte in the middle changed.
func flipByte(b []byte) []byte {
	out := bytes.Clone(b)
	out[len(out)/2] ^= 0x01
	return out
}

func TestSignedProviders(t *testing.T) {
	type verifyCase struct {
		name    string
		cfg     SourceConfig
		req     *http.Request
		body    []byte
		now     time.Time
		accept  bool
		mention []string
	}
	for _, s := range schemes() {
		verify := verifierOf(t, s.provider)
		key := s.secretOf()
		window := tolerance(s.cfg)
		t.Run(s.provider, func(t *testing.T) {
			good := s.request(sampleBody, signedAt, key)
			want := good.Header.Get(s.sigHeader)
			// A signature made with an empty key, which anyone can compute.
			emptyKey := s.request(sampleBody, signedAt, "")
			emptyKey.Header.Set(s.sigHeader, s.sign("", emptyKey, sampleBody))
			tests := []verifyCase{
				{name: "a correctly signed request is accepted", cfg: s.cfg, req: good, body: sampleBody, now: signedAt, accept: true},
				{name: "a request received a minute after signing is accepted", cfg: s.cfg, req: good, body: sampleBody, now: signedAt.Add(time.Minute), accept: true},
				{name: "a body changed by one byte is rejected", cfg: s.cfg, req: good, body: flipByte(sampleBody), now: signedAt, mention: []string{s.sigHeader}},
				{name: "an empty body under the signature of another body is rejected", cfg: s.cfg, req: good, body: nil, now: signedAt, mention: []string{s.sigHeader}},
				{name: "a signature changed by one character is rejected", cfg: s.cfg, req: with(good, s.sigHeader, flipChar(want)), body: sampleBody, now: signedAt, mention: []string{s.sigHeader}},
				{name: "a request signed with another secret is rejected", cfg: s.cfg, req: s.request(sampleBody, signedAt, key+"-other"), body: sampleBody, now: signedAt, mention: []string{s.sigHeader}},
				{name: "a request without the signature header is rejected naming it", cfg: s.cfg, req: s.request(sampleBody, signedAt, ""), body: sampleBody, now: signedAt, mention: []string{"missing", s.sigHeader}},
			}
			if s.provider != "tally" { // Tally falls back to the token: TestTally.
				tests = append(tests, verifyCase{name: "a source without a secret rejects a request signed with an empty key", cfg: withSecret(s.cfg, ""), req: emptyKey, body: sampleBody, now: signedAt, mention: []string{"secret"}})
			}
			if s.tsHeader != "" {
				tests = append(tests,
					verifyCase{name: "a timestamp older than the replay window is rejected", cfg: s.cfg, req: good, body: sampleBody, now: signedAt.Add(window + time.Second), mention: []string{s.tsHeader, "old", "window"}},
					verifyCase{name: "a timestamp further in the future than the replay window is rejected", cfg: s.cfg, req: good, body: sampleBody, now: signedAt.Add(-window - time.Second), mention: []string{s.tsHeader, "future", "window"}},
					verifyCase{name: "a request without the timestamp header is rejected naming it", cfg: s.cfg, req: without(good, s.tsHeader), body: sampleBody, now: signedAt, mention: []string{"missing", s.tsHeader}},
					verifyCase{name: "an unparsable timestamp is rejected", cfg: s.cfg, req: with(good, s.tsHeader, "yesterday"), body: sampleBody, now: signedAt, mention: []string{s.tsHeader}},
				)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := verify(tt.cfg, tt.req, tt.body, tt.now)
					if tt.accept {
						wantAccepted(t, err)
						return
					}
					wantRejected(t, err, tt.mention, key, want)
				})
			}
		})
	}
}

// with returns a copy of r with header name set to v.
func with(r *http.Request, name, v string) *http.Request {
	c := r.Clone(r.Context())
	c.Header.Set(name, v)
	return c
}

// without returns a copy of r without header name.
func without(r *http.Request, name string) *http.Request {
	c := r.Clone(r.Context())
	c.Header.Del(name)
	return c
}

func TestHubSpot(t *testing.T) {
	verify := verifierOf(t, "hubspot")
	const key = "test-hubspot-client-secret"
	ts := strconv.FormatInt(signedAt.UnixMilli(), 10)
	v3 := func(method, uri string, body []byte) string {
		return b64(hmacSHA256(key, []byte(method+uri), body, []byte(ts)))
	}
	sha := func(s string, body []byte) string {
		h := sha256.Sum256(append([]byte(s), body...))
		return hex.EncodeToString(h[:])
	}
	post := func(target string, headers map[string]string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(sampleBody))
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return r
	}
	cfg := SourceConfig{Provider: "hubspot", Secret: key}
	public := cfg
	public.PublicURL = hubSpotTestURL

	tests := []struct {
		name    string
		cfg     SourceConfig
		req     *http.Request
		accept  bool
		mention []string
	}{
		{
			name: "without PublicURL the URI is rebuilt from Host and the request URI",
			cfg:  cfg,
			req: post("http://hub.internal:8080/hooks/hubspot?a=1&b=2", map[string]string{
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("POST", "http://hub.internal:8080/hooks/hubspot?a=1&b=2", sampleBody),
			}),
			accept: true,
		},
		{
			name: "behind a TLS-terminating proxy X-Forwarded-Proto gives the scheme",
			cfg:  cfg,
			req: post("http://hub.example.com/hooks/hubspot", map[string]string{
				"X-Forwarded-Proto":           "https",
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("POST", "https://hub.example.com/hooks/hubspot", sampleBody),
			}),
			accept: true,
		},
		{
			name: "a signature over the http URI is rejected when the client used https",
			cfg:  cfg,
			req: post("http://hub.example.com/hooks/hubspot", map[string]string{
				"X-Forwarded-Proto":           "https",
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("POST", "http://hub.example.com/hooks/hubspot", sampleBody),
			}),
			mention: []string{"X-HubSpot-Signature-v3"},
		},
		{
			name: "with PublicURL the request's query is appended to it",
			cfg:  public,
			req: post("http://10.0.0.7/hooks/hubspot?portal=7", map[string]string{
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("POST", hubSpotTestURL+"?portal=7", sampleBody),
			}),
			accept: true,
		},
		{
			name: "the escapes HubSpot lists are decoded in the signed URI",
			cfg:  public,
			req: post("/hooks/hubspot?next=a%3Ab%2Fc%40d%20e", map[string]string{
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("POST", hubSpotTestURL+"?next=a:b/c@d%20e", sampleBody),
			}),
			accept: true,
		},
		{
			name: "a signature over another URI is rejected",
			cfg:  public,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("POST", "https://evil.example.net/hooks/hubspot", sampleBody),
			}),
			mention: []string{"X-HubSpot-Signature-v3"},
		},
		{
			name: "a signature over another method is rejected",
			cfg:  public,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      v3("PUT", hubSpotTestURL, sampleBody),
			}),
			mention: []string{"X-HubSpot-Signature-v3"},
		},
		{
			name: "a legacy v1 signature is accepted when no v3 header is sent",
			cfg:  cfg,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Signature-Version": "v1",
				"X-HubSpot-Signature":         sha(key, sampleBody),
			}),
			accept: true,
		},
		{
			name: "a legacy v1 signature of another body is rejected",
			cfg:  cfg,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Signature-Version": "v1",
				"X-HubSpot-Signature":         sha(key, flipByte(sampleBody)),
			}),
			mention: []string{"X-HubSpot-Signature"},
		},
		{
			name: "a legacy v2 signature covers method and URI",
			cfg:  public,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Signature-Version": "v2",
				"X-HubSpot-Signature":         sha(key+"POST"+hubSpotTestURL, sampleBody),
			}),
			accept: true,
		},
		{
			name: "a v1 hash sent as v2 is rejected",
			cfg:  public,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Signature-Version": "v2",
				"X-HubSpot-Signature":         sha(key, sampleBody),
			}),
			mention: []string{"X-HubSpot-Signature"},
		},
		{
			name: "a legacy signature without its version header is rejected naming it",
			cfg:  cfg,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Signature": sha(key, sampleBody),
			}),
			mention: []string{"missing", "X-HubSpot-Signature-Version"},
		},
		{
			name: "an unknown legacy version is rejected",
			cfg:  cfg,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Signature-Version": "v9",
				"X-HubSpot-Signature":         sha(key, sampleBody),
			}),
			mention: []string{"X-HubSpot-Signature-Version"},
		},
		{
			name: "a bad v3 signature is rejected even beside a valid v1 one",
			cfg:  public,
			req: post("/hooks/hubspot", map[string]string{
				"X-HubSpot-Request-Timestamp": ts,
				"X-HubSpot-Signature-v3":      flipChar(v3("POST", hubSpotTestURL, sampleBody)),
				"X-HubSpot-Signature-Version": "v1",
				"X-HubSpot-Signature":         sha(key, sampleBody),
			}),
			mention: []string{"X-HubSpot-Signature-v3"},
		},
		{
			name:    "a request with no HubSpot signature at all is rejected naming the v3 header",
			cfg:     cfg,
			req:     post("/hooks/hubspot", nil),
			mention: []string{"missing", "X-HubSpot-Signature-v3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(tt.cfg, tt.req, sampleBody, signedAt)
			if tt.accept {
				wantAccepted(t, err)
				return
			}
			wantRejected(t, err, tt.mention, key)
		})
	}
}

// Tally, Webflow and HubSpot sign only some webhooks: a source with the
// signing secret requires the signature, a source without one is
// protected by its token instead (and a wrong token is "unauthorized",
// not a bad signature).
func TestProvidersThatSignOptionally(t *testing.T) {
	const token = "optional-source-token-0001"
	for _, provider := range []string{"tally", "webflow", "hubspot"} {
		s := schemeFor(provider)
		unsigned := func(target string) *http.Request {
			return httptest.NewRequest(http.MethodPost, target, bytes.NewReader(sampleBody))
		}
		basic := unsigned("/hooks/x")
		basic.SetBasicAuth("x", token)
		tests := []struct {
			name     string
			cfg      SourceConfig
			req      *http.Request
			accept   bool
			code     string
			mentions []string
		}{
			{name: "with a secret, a signed request is accepted", cfg: s.cfg, req: s.request(sampleBody, signedAt, s.secretOf()), accept: true},
			{name: "with a secret, an unsigned request is refused even with the token", cfg: SourceConfig{Provider: provider, Secret: s.cfg.Secret, Token: token},
				req: unsigned("/hooks/x?token=" + token), code: "invalid_signature", mentions: []string{"missing"}},
			{name: "without a secret, the token as ?token= is accepted", cfg: SourceConfig{Provider: provider, Token: token}, req: unsigned("/hooks/x?token=" + token), accept: true},
			{name: "without a secret, the token as the Basic password is accepted", cfg: SourceConfig{Provider: provider, Token: token}, req: basic, accept: true},
			{name: "without a secret, a wrong token is unauthorized", cfg: SourceConfig{Provider: provider, Token: token},
				req: unsigned("/hooks/x?token=wrong-token-0000000"), code: "unauthorized", mentions: []string{"token"}},
			{name: "without a secret, a signature is no substitute for the token", cfg: SourceConfig{Provider: provider, Token: token},
				req: s.request(sampleBody, signedAt, "any-secret"), code: "unauthorized", mentions: []string{"token"}},
			{name: "with neither secret nor token, the source is open", cfg: SourceConfig{Provider: provider}, req: unsigned("/hooks/x"), accept: true},
		}
		for _, tt := range tests {
			t.Run(provider+": "+tt.name, func(t *testing.T) {
				code, err := newSource("x", tt.cfg).check(tt.req, sampleBody, signedAt)
				if tt.accept {
					wantAccepted(t, err)
					return
				}
				if code != tt.code {
					t.Errorf("code %q, want %q", code, tt.code)
				}
				wantRejected(t, err, tt.mentions, token, s.secretOf())
			})
		}
	}
}

func TestGoogleAds(t *testing.T) {
	verify := verifierOf(t, "google_ads")
	const key = "test-google-ads-key-0001"
	cfg := SourceConfig{Provider: "google_ads", Secret: key}
	tests := []struct {
		name    string
		cfg     SourceConfig
		body    string
		accept  bool
		mention []string
	}{
		{name: "a lead carrying the configured google_key is accepted", cfg: cfg, body: `{"lead_id":"L1","form_id":9223372036854775807,"google_key":"` + key + `","is_test":true}`, accept: true},
		{name: "a lead carrying another google_key is rejected", cfg: cfg, body: `{"lead_id":"L1","google_key":"test-google-ads-key-0002"}`, mention: []string{"google_key"}},
		{name: "a lead carrying a prefix of the key is rejected", cfg: cfg, body: `{"google_key":"test-google-ads-key"}`, mention: []string{"google_key"}},
		{name: "a lead without google_key is rejected naming it", cfg: cfg, body: `{"lead_id":"L1"}`, mention: []string{"missing", "google_key"}},
		{name: "an empty google_key is rejected", cfg: cfg, body: `{"google_key":""}`, mention: []string{"google_key"}},
		{name: "a google_key that is not a string is rejected", cfg: cfg, body: `{"google_key":12345}`, mention: []string{"google_key"}},
		{name: "a body that is not JSON is rejected", cfg: cfg, body: `google_key=` + key, mention: []string{"google_key"}},
		{name: "a JSON array body is rejected", cfg: cfg, body: `[{"google_key":"` + key + `"}]`, mention: []string{"google_key"}},
		{name: "a source without a secret rejects a lead with an empty key", cfg: SourceConfig{}, body: `{"google_key":""}`, mention: []string{"google_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/hooks/google-ads", strings.NewReader(tt.body))
			err := verify(tt.cfg, r, []byte(tt.body), signedAt)
			if tt.accept {
				wantAccepted(t, err)
				return
			}
			wantRejected(t, err, tt.mention, key)
		})
	}
}

func TestStandardWebhooks(t *testing.T) {
	verify := verifierOf(t, "events")
	rawKey := []byte("0123456789abcdef0123456789abcdef")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(rawKey)
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	sig := func(key []byte) string {
		return "v1," + b64(hmacSHA256(string(key), []byte(id+"."+ts+"."), sampleBody))
	}
	req := func(list string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hooks/events", bytes.NewReader(sampleBody))
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", ts)
		r.Header.Set("webhook-signature", list)
		return r
	}
	whsecCfg := SourceConfig{Provider: "events", Secret: secret.Secret(whsec)}
	rawCfg := SourceConfig{Provider: "events", Secret: "plain-shared-secret"}
	tests := []struct {
		name    string
		cfg     SourceConfig
		req     *http.Request
		accept  bool
		mention []string
	}{
		{name: "a whsec_ secret signs with its decoded bytes", cfg: whsecCfg, req: req(sig(rawKey)), accept: true},
		{name: "a whsec_ secret does not sign with its text", cfg: whsecCfg, req: req(sig([]byte(whsec))), mention: []string{"webhook-signature"}},
		{name: "a secret without whsec_ signs with its bytes as given", cfg: rawCfg, req: req(sig([]byte("plain-shared-secret"))), accept: true},
		{name: "a list with one matching signature among stale ones is accepted", cfg: whsecCfg, req: req("v1,c3RhbGU= " + sig(rawKey) + " v1,b2xk"), accept: true},
		{name: "a matching signature under another version tag is rejected", cfg: whsecCfg, req: req("v1a," + strings.TrimPrefix(sig(rawKey), "v1,")), mention: []string{"v1", "webhook-signature"}},
		{name: "a list where no signature matches is rejected", cfg: whsecCfg, req: req("v1,c3RhbGU= v1,b2xk"), mention: []string{"webhook-signature"}},
		{name: "a signature without its version tag is rejected", cfg: whsecCfg, req: req(strings.TrimPrefix(sig(rawKey), "v1,")), mention: []string{"webhook-signature"}},
		{name: "a request without webhook-id is rejected naming it", cfg: whsecCfg, req: without(req(sig(rawKey)), "webhook-id"), mention: []string{"missing", "webhook-id"}},
		{name: "a signature for another message id is rejected", cfg: whsecCfg, req: with(req(sig(rawKey)), "webhook-id", "msg_other"), mention: []string{"webhook-signature"}},
		{name: "a whsec_ secret whose rest is not base64 is rejected without revealing it", cfg: SourceConfig{Secret: "whsec_not*base64!"}, req: req(sig(rawKey)), mention: []string{"whsec_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(tt.cfg, tt.req, sampleBody, signedAt)
			if tt.accept {
				wantAccepted(t, err)
				return
			}
			wantRejected(t, err, tt.mention, whsec, string(rawKey), sig(rawKey), "not*base64!")
		})
	}
}

func TestReplayWindow(t *testing.T) {
	tests := []struct {
		name      string
		provider  string
		tolerance time.Duration
		age       time.Duration
		accept    bool
	}{
		{name: "zendesk accepts a request 4 minutes old by default", provider: "zendesk", age: 4 * time.Minute, accept: true},
		{name: "zendesk rejects a request 6 minutes old by default", provider: "zendesk", age: 6 * time.Minute},
		{name: "zendesk rejects a request 2 minutes old when Tolerance is 1 minute", provider: "zendesk", tolerance: time.Minute, age: 2 * time.Minute},
		{name: "zendesk accepts a request 20 minutes old when Tolerance is 30 minutes", provider: "zendesk", tolerance: 30 * time.Minute, age: 20 * time.Minute, accept: true},
		{name: "zendesk accepts a request exactly at the edge of the window", provider: "zendesk", age: 5 * time.Minute, accept: true},
		{name: "webflow accepts a clock 4 minutes behind the sender", provider: "webflow", age: -4 * time.Minute, accept: true},
		{name: "hubspot rejects a request 6 minutes old", provider: "hubspot", age: 6 * time.Minute},
		{name: "events rejects a request 6 minutes in the future", provider: "events", age: -6 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schemeFor(tt.provider)
			cfg := s.cfg
			cfg.Tolerance = tt.tolerance
			err := verifierOf(t, tt.provider)(cfg, s.request(sampleBody, signedAt, s.secretOf()), sampleBody, signedAt.Add(tt.age))
			if tt.accept {
				wantAccepted(t, err)
				return
			}
			wantRejected(t, err, []string{s.tsHeader, "window"}, s.secretOf())
		})
	}
}

func TestSurveyMonkeyTakesTheClientIDFromConfigOrSmApikey(t *testing.T) {
	s := schemeFor("surveymonkey")
	tests := []struct {
		name, configured, header string
		accept                   bool
		reason                   string
	}{
		{name: "the configured client id signs", configured: "test-client-id", header: "test-client-id", accept: true},
		{name: "without a configured client id the Sm-Apikey header's is used", header: "test-client-id", accept: true},
		{name: "an Sm-Apikey of another app is refused", configured: "test-client-id", header: "other-app", reason: "Sm-Apikey"},
		{name: "no client id anywhere is refused", reason: "Sm-Apikey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s.cfg
			cfg.ClientID = tt.configured
			r := s.request(sampleBody, signedAt, s.secretOf())
			r.Header.Del("Sm-Apikey")
			if tt.header != "" {
				r.Header.Set("Sm-Apikey", tt.header)
			}
			err := verifierOf(t, "surveymonkey")(cfg, r, sampleBody, signedAt)
			if tt.accept {
				wantAccepted(t, err)
				return
			}
			wantRejected(t, err, []string{tt.reason}, s.secretOf())
		})
	}
}

func TestMetaDoesNotAcceptTheLegacySHA1SignatureAlone(t *testing.T) {
	s := schemeFor("meta")
	r := s.request(sampleBody, signedAt, "")
	r.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(hmacSHA1(s.secretOf(), sampleBody)))
	err := verifierOf(t, "meta")(s.cfg, r, sampleBody, signedAt)
	wantRejected(t, err, []string{"missing", "X-Hub-Signature-256"}, s.secretOf())
}
