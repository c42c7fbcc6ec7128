package webhooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// The fuzz targets mutate the body and the signature header of a correctly
// signed request. Property: Verify accepts exactly when the header equals
// what the test's own signer computes for the mutated body (so a request
// that differs from a correctly signed one in body or signature is never
// accepted), its errors are *AuthError that reveal neither the secret nor
// the expected signature, and it never panics.

func FuzzVerifyHubSpot(f *testing.F)      { fuzzScheme(f, "hubspot", nil) }
func FuzzVerifyWebflow(f *testing.F)      { fuzzScheme(f, "webflow", nil) }
func FuzzVerifyTally(f *testing.F)        { fuzzScheme(f, "tally", nil) }
func FuzzVerifyMeta(f *testing.F)         { fuzzScheme(f, "meta", nil) }
func FuzzVerifyLinkedIn(f *testing.F)     { fuzzScheme(f, "linkedin", nil) }
func FuzzVerifyZendesk(f *testing.F)      { fuzzScheme(f, "zendesk", nil) }
func FuzzVerifyIntercom(f *testing.F)     { fuzzScheme(f, "intercom", nil) }
func FuzzVerifyHelpScout(f *testing.F)    { fuzzScheme(f, "helpscout", nil) }
func FuzzVerifyTypeform(f *testing.F)     { fuzzScheme(f, "typeform", nil) }
func FuzzVerifySurveyMonkey(f *testing.F) { fuzzScheme(f, "surveymonkey", nil) }

// FuzzVerifyEvents: the header is a space-separated list, accepted when any
// entry is "v1," + the expected signature.
func FuzzVerifyEvents(f *testing.F) {
	f.Add(sampleBody, "v1,c3RhbGU= "+schemeFor("events").request(sampleBody, signedAt, "test-standard-webhooks-secret").Header.Get("webhook-signature"))
	fuzzScheme(f, "events", func(header, want string) bool {
		return slices.Contains(strings.Split(header, " "), want)
	})
}

// fuzzScheme fuzzes the verifier of provider. matches says whether the
// signature header value is correct given the signer's value; nil means
// equality.
func fuzzScheme(f *testing.F, provider string, matches func(header, want string) bool) {
	s := schemeFor(provider)
	verify := verifierOf(f, provider)
	key := s.secretOf()
	if matches == nil {
		matches = func(header, want string) bool { return header == want }
	}
	for _, body := range fuzzBodies() {
		good := s.request(body, signedAt, key).Header.Get(s.sigHeader)
		f.Add(body, good)
		f.Add(body, flipChar(good))
	}
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		r := s.request(body, signedAt, "")
		r.Header.Set(s.sigHeader, sig)
		want := s.sign(key, r, body)
		err := verify(s.cfg, r, body, signedAt)
		if accepted, correct := err == nil, matches(sig, want); accepted != correct {
			t.Fatalf("accepted = %v for a signature that is correct = %v (err %v)", accepted, correct, err)
		}
		checkReason(t, err, key, want)
	})
}

func FuzzVerifyHubSpotLegacy(f *testing.F) {
	s := schemeFor("hubspot")
	verify := verifierOf(f, "hubspot")
	key := s.secretOf()
	v1 := func(body []byte) string {
		h := sha256.Sum256(append([]byte(key), body...))
		return hex.EncodeToString(h[:])
	}
	for _, body := range fuzzBodies() {
		f.Add(body, v1(body))
		f.Add(body, flipChar(v1(body)))
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		r := httptest.NewRequest(http.MethodPost, s.target, bytes.NewReader(body))
		r.Header.Set("X-HubSpot-Signature-Version", "v1")
		r.Header.Set("X-HubSpot-Signature", sig)
		want := v1(body)
		err := verify(s.cfg, r, body, signedAt)
		if accepted, correct := err == nil, sig == want; accepted != correct {
			t.Fatalf("accepted = %v for a signature that is correct = %v (err %v)", accepted, correct, err)
		}
		checkReason(t, err, key, want)
	})
}

// FuzzVerifyGoogleAds: a lead is accepted only when its JSON carries the
// configured key as google_key (encoding/json matches field names without
// regard to case), and always when that is its only such field.
func FuzzVerifyGoogleAds(f *testing.F) {
	const key = "test-google-ads-key-0001"
	cfg := SourceConfig{Provider: "google_ads", Secret: key}
	verify := verifierOf(f, "google_ads")
	f.Add([]byte(`{"lead_id":"L1","google_key":"` + key + `","form_id":9223372036854775807}`))
	f.Add([]byte(`{"google_key":"test-google-ads-key-0002"}`))
	f.Add([]byte(`{"GOOGLE_KEY":"` + key + `","google_key":"x"}`))
	f.Add([]byte(`[{"google_key":"` + key + `"}]`))
	f.Add([]byte(`{"google_key":"test\u002dgoogle-ads-key-0001"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/hooks/google-ads", bytes.NewReader(body))
		err := verify(cfg, r, body, signedAt)
		var fields map[string]any
		var values []any
		if json.Unmarshal(body, &fields) == nil {
			for k, v := range fields {
				if strings.EqualFold(k, "google_key") {
					values = append(values, v)
				}
			}
		}
		if err == nil && !slices.Contains(values, any(key)) {
			t.Fatalf("accepted a body without the key as google_key: %q", body)
		}
		if err != nil && len(values) == 1 && values[0] == any(key) {
			t.Fatalf("rejected a body whose only google_key is the key: %v", err)
		}
		checkReason(t, err, key)
	})
}

// checkReason fails unless err is nil or an *AuthError whose reason shows
// none of hidden.
func checkReason(t *testing.T, err error, hidden ...string) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *AuthError", err, err)
	}
	for _, h := range hidden {
		if h != "" && strings.Contains(ae.Reason, h) {
			t.Fatalf("reason %q reveals a secret or the expected signature", ae.Reason)
		}
	}
}

// fuzzBodies are the seed bodies: the sample, empty, and the shared
// fixtures' raw bodies when they are present.
func fuzzBodies() [][]byte {
	bodies := [][]byte{sampleBody, {}, []byte("{}"), []byte(`["\u00e9",null]`)}
	_ = walkKnownAnswers(func(raw string) { bodies = append(bodies, []byte(raw)) })
	return bodies
}
