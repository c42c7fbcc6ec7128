package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/webhooks"
)

// testFixtures is /work/shared/fixtures seen from this package.
var testFixtures = filepath.Join("..", "..", "..", "shared", "fixtures")

// requireFixtures skips without the shared samples, except in CI.
func requireFixtures(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(testFixtures); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared fixtures missing in CI: %v", err)
		}
		t.Skipf("shared fixtures not found at %s: %v", testFixtures, err)
	}
}

// signedProviders are the supported providers that sign with a header.
var signedProviders = []string{"typeform", "tally", "intercom", "helpscout", "webflow", "zendesk"}

// Every signature the generator makes is accepted by the daemon's own
// verifier, and a changed body, another secret or a stale time is not.
func TestSignaturesPassTheDaemonsVerifiers(t *testing.T) {
	body := []byte(`{"event_id":"evt_1","email":"ana.lima@example.com","name":"Ana Conceição"}`)
	now := time.Date(2025, 3, 14, 11, 40, 12, 0, time.UTC)
	for _, provider := range signedProviders {
		t.Run(provider, func(t *testing.T) {
			cfg := webhooks.SourceConfig{Provider: provider, Secret: "load-test-secret-0001"}
			verify := webhooks.Providers()[provider].Verify
			signed := func(cfg webhooks.SourceConfig, body []byte, at time.Time) *http.Request {
				sign, err := signerFor(provider, cfg)
				if err != nil {
					t.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodPost, "/hooks/"+provider, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				sign(r.Header, body, at)
				return r
			}
			if err := verify(cfg, signed(cfg, body, now), body, now); err != nil {
				t.Fatalf("the daemon rejects the generator's signature: %v", err)
			}
			var auth *webhooks.AuthError
			tampered := append(bytes.Clone(body[:len(body)-1]), []byte(`,"x":1}`)...)
			if err := verify(cfg, signed(cfg, body, now), tampered, now); !errors.As(err, &auth) {
				t.Errorf("a changed body passed: %v", err)
			}
			other := cfg
			other.Secret = "another-secret-0002"
			if err := verify(cfg, signed(other, body, now), body, now); !errors.As(err, &auth) {
				t.Errorf("another secret passed: %v", err)
			}
			if provider == "webflow" || provider == "zendesk" {
				if err := verify(cfg, signed(cfg, body, now.Add(-time.Hour)), body, now); !errors.As(err, &auth) {
					t.Errorf("an hour-old signature passed: %v", err)
				}
			}
		})
	}
}

// The generator's signatures of each sample's raw body, with the sample's
// test secret and time, equal the sample's known answers.
func TestSignaturesMatchTheSamplesKnownAnswers(t *testing.T) {
	requireFixtures(t)
	for provider, spec := range supported {
		if !slices.Contains(signedProviders, provider) {
			continue
		}
		t.Run(provider, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testFixtures, spec.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var f struct {
				Signing struct {
					Secret      string            `json:"secret"`
					KnownAnswer map[string]string `json:"known_answer"`
				} `json:"signing"`
			}
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatal(err)
			}
			ka := f.Signing.KnownAnswer
			if ka == nil {
				t.Fatal("the sample has no known answer")
			}
			now := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
			if ts := ka["timestamp"]; ts != "" {
				if at, err := time.Parse(time.RFC3339, ts); err == nil {
					now = at
				} else if ms, err := parseMillis(ts); err == nil {
					now = ms
				}
			}
			sign, err := signerFor(provider, webhooks.SourceConfig{Provider: provider, Secret: secret.Secret(f.Signing.Secret)})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			sign(h, []byte(ka["raw_body"]), now)
			checked := 0
			for name, want := range ka {
				switch name {
				case "raw_body", "timestamp", "uri", "hmac_key":
					continue
				}
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, the sample says %q", name, got, want)
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no signature header in the known answer")
			}
		})
	}
}

// Providers that sign nothing, or sign optionally and have no secret, send
// the source token as the HTTP Basic password when one is set.
func TestTokenSourcesSendTheTokenInBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  webhooks.SourceConfig
		want bool
	}{
		{"a form source with a token sends it", webhooks.SourceConfig{Provider: "form", Token: "form-token-0123456789"}, true},
		{"a Webflow source without a secret sends its token", webhooks.SourceConfig{Provider: "webflow", Token: "webflow-token-0123456789"}, true},
		{"an open form source sends nothing", webhooks.SourceConfig{Provider: "form"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sign, err := signerFor(tc.cfg.Provider, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/hooks/x", nil)
			sign(r.Header, nil, time.Now())
			_, pass, ok := r.BasicAuth()
			if ok != tc.want || ok && pass != tc.cfg.Token.Reveal() {
				t.Fatalf("basic auth = %v %q, want %v with the token", ok, pass, tc.want)
			}
		})
	}
}

// A provider the generator cannot sign is refused up front.
func TestUnsupportedSignedProvidersAreRefused(t *testing.T) {
	if _, err := signerFor("meta", webhooks.SourceConfig{Provider: "meta", Secret: "s"}); err == nil {
		t.Fatal("meta: want an error")
	}
}

func parseMillis(s string) (time.Time, error) {
	var ms int64
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), nil
}
