package webhooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
)

// fixtureDir holds the shared sample requests: /work/shared/fixtures beside
// the clone, here and in CI.
var fixtureDir = filepath.Join("..", "..", "shared", "fixtures")

// fixture is one sample request of the shared fixtures.
type fixture struct {
	file     string
	Provider string            `json:"provider"`
	Method   string            `json:"method"`
	PathHint string            `json:"path_hint"`
	Headers  map[string]string `json:"headers"`
	Body     json.RawMessage   `json:"body"`
	Signing  *struct {
		Scheme string `json:"scheme"`
		Secret string `json:"secret"`
		// KnownAnswer has raw_body (the exact bytes), the expected header
		// values by header name, and uri, timestamp, hmac_key.
		KnownAnswer map[string]string `json:"known_answer"`
	} `json:"signing"`
	Expect map[string]any `json:"expect"`
}

// registryName maps a fixture's provider to its name in Providers.
func (f fixture) registryName() string {
	switch f.Provider {
	case "html-form":
		return "form"
	default:
		return strings.ReplaceAll(f.Provider, "-", "_")
	}
}

// loadFixtures reads every fixture, failing when the directory is missing
// in CI and skipping elsewhere.
func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	if _, err := os.Stat(fixtureDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared fixtures missing in CI: %v", err)
		}
		t.Skipf("shared fixtures not found at %s: %v", fixtureDir, err)
	}
	out, err := readFixtures()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no fixtures in %s", fixtureDir)
	}
	return out
}

// readFixtures reads every *.json under fixtureDir.
func readFixtures() ([]fixture, error) {
	var out []fixture
	err := filepath.WalkDir(fixtureDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var f fixture
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		f.file, _ = filepath.Rel(fixtureDir, path)
		out = append(out, f)
		return nil
	})
	return out, err
}

// walkKnownAnswers calls fn with the raw_body of every known answer.
func walkKnownAnswers(fn func(rawBody string)) error {
	fixtures, err := readFixtures()
	for _, f := range fixtures {
		if f.Signing != nil && f.Signing.KnownAnswer != nil {
			fn(f.Signing.KnownAnswer["raw_body"])
		}
	}
	return err
}

// knownAnswerParams are known_answer keys that are not header values.
var knownAnswerParams = map[string]bool{"raw_body": true, "uri": true, "timestamp": true, "hmac_key": true}

// signedFixture is a fixture's known answer made into a request.
type signedFixture struct {
	fixture
	cfg SourceConfig
	// headers are the request headers, signatures included.
	headers http.Header
	body    []byte
	target  string
	// signedAt is the signed timestamp, zero when the scheme has none.
	signedAt time.Time
}

func newSignedFixture(t *testing.T, f fixture) signedFixture {
	t.Helper()
	ka := f.Signing.KnownAnswer
	sf := signedFixture{
		fixture: f,
		cfg:     SourceConfig{Provider: f.registryName(), Secret: secret.Secret(f.Signing.Secret)},
		headers: http.Header{},
		body:    []byte(ka["raw_body"]),
		target:  f.PathHint,
	}
	for k, v := range f.Headers {
		if v != "<computed>" {
			sf.headers.Set(k, v)
		}
	}
	for k, v := range ka {
		if !knownAnswerParams[k] {
			sf.headers.Set(k, v)
		}
	}
	if uri := ka["uri"]; uri != "" {
		// The URI is given through PublicURL, as behind a proxy; the
		// request itself arrives on another host and path.
		sf.cfg.PublicURL = uri
		sf.target = "http://10.0.0.7:8080/hooks/" + f.registryName()
	}
	if f.registryName() == "surveymonkey" {
		sf.cfg.ClientID = sf.headers.Get("Sm-Apikey")
		if want := ka["hmac_key"]; want != sf.cfg.ClientID+"&"+f.Signing.Secret {
			t.Fatalf("%s: hmac_key is not Sm-Apikey + \"&\" + secret", f.file)
		}
	}
	if ts := schemeFor(f.registryName()).tsHeader; ts != "" {
		v := sf.headers.Get(ts)
		if v == "" {
			t.Fatalf("%s: no %s header", f.file, ts)
		}
		if want := ka["timestamp"]; want != "" && want != v {
			t.Fatalf("%s: known_answer timestamp %q differs from the %s header %q", f.file, want, ts, v)
		}
		if at, err := time.Parse(time.RFC3339, v); err == nil {
			sf.signedAt = at
		} else if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			sf.signedAt = time.UnixMilli(ms)
		} else {
			t.Fatalf("%s: cannot read the timestamp %q", f.file, v)
		}
	}
	return sf
}

// request builds the fixture's request with the headers h.
func (sf signedFixture) request(h http.Header) *http.Request {
	method := sf.Method
	if method == "" {
		method = http.MethodPost
	}
	r := httptest.NewRequest(method, sf.target, bytes.NewReader(sf.body))
	r.Header = h.Clone()
	return r
}

// now is a clock inside the replay window: a minute after signing.
func (sf signedFixture) now() time.Time {
	if sf.signedAt.IsZero() {
		return time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	}
	return sf.signedAt.Add(time.Minute)
}

func TestFixtureKnownAnswers(t *testing.T) {
	registry := Providers()
	for _, f := range loadFixtures(t) {
		if f.Signing == nil || f.Signing.KnownAnswer == nil {
			continue
		}
		t.Run(f.file, func(t *testing.T) {
			p, ok := registry[f.registryName()]
			if !ok || p.Verify == nil {
				t.Fatalf("fixture provider %q has no verifier in the registry", f.Provider)
			}
			sf := newSignedFixture(t, f)
			s := schemeFor(f.registryName())
			sig := sf.headers.Get(s.sigHeader)
			if sig == "" {
				t.Fatalf("known_answer has no %s", s.sigHeader)
			}
			window := tolerance(sf.cfg)
			// Without any signature: HubSpot's legacy header alone still
			// verifies (tested below), so it goes too.
			unsigned := delHeader(delHeader(sf.headers, s.sigHeader), "X-HubSpot-Signature")
			type verifyCase struct {
				name    string
				cfg     SourceConfig
				headers http.Header
				body    []byte
				now     time.Time
				accept  bool
				mention []string
			}
			tests := []verifyCase{
				{name: "the known answer is accepted", cfg: sf.cfg, headers: sf.headers, body: sf.body, now: sf.now(), accept: true},
				{name: "the known answer with a body changed by one byte is rejected", cfg: sf.cfg, headers: sf.headers, body: flipByte(sf.body), now: sf.now(), mention: []string{s.sigHeader}},
				{name: "the known answer with the body re-encoded with spaces is rejected", cfg: sf.cfg, headers: sf.headers, body: reindent(t, sf.body), now: sf.now(), mention: []string{s.sigHeader}},
				{name: "the known answer with a signature changed by one character is rejected", cfg: sf.cfg, headers: setHeader(sf.headers, s.sigHeader, flipChar(sig)), body: sf.body, now: sf.now(), mention: []string{s.sigHeader}},
				{name: "the known answer checked with a wrong secret is rejected", cfg: withSecret(sf.cfg, f.Signing.Secret+"x"), headers: sf.headers, body: sf.body, now: sf.now(), mention: []string{s.sigHeader}},
				{name: "the known answer without its signature headers is rejected", cfg: sf.cfg, headers: unsigned, body: sf.body, now: sf.now(), mention: []string{"missing", s.sigHeader}},
			}
			if !sf.signedAt.IsZero() {
				tests = append(tests,
					verifyCase{name: "the known answer received just inside the window is accepted", cfg: sf.cfg, headers: sf.headers, body: sf.body, now: sf.signedAt.Add(window - time.Second), accept: true},
					verifyCase{name: "the known answer received after the window is rejected", cfg: sf.cfg, headers: sf.headers, body: sf.body, now: sf.signedAt.Add(window + time.Second), mention: []string{s.tsHeader, "old"}},
					verifyCase{name: "the known answer received before its timestamp minus the window is rejected", cfg: sf.cfg, headers: sf.headers, body: sf.body, now: sf.signedAt.Add(-window - time.Second), mention: []string{s.tsHeader, "future"}},
				)
			}
			if f.registryName() == "hubspot" {
				legacy := delHeader(delHeader(sf.headers, "X-HubSpot-Signature-v3"), "X-HubSpot-Request-Timestamp")
				tests = append(tests,
					verifyCase{name: "the legacy v1 known answer is accepted when only v1 headers are sent", cfg: sf.cfg, headers: legacy, body: sf.body, now: sf.now(), accept: true},
					verifyCase{name: "the legacy v1 known answer with a body changed by one byte is rejected", cfg: sf.cfg, headers: legacy, body: flipByte(sf.body), now: sf.now(), mention: []string{"X-HubSpot-Signature"}},
					verifyCase{name: "the legacy v1 known answer checked with a wrong secret is rejected", cfg: withSecret(sf.cfg, f.Signing.Secret+"x"), headers: legacy, body: sf.body, now: sf.now(), mention: []string{"X-HubSpot-Signature"}},
				)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := p.Verify(tt.cfg, sf.request(tt.headers), tt.body, tt.now)
					if tt.accept {
						wantAccepted(t, err)
						return
					}
					wantRejected(t, err, tt.mention, f.Signing.Secret, sig)
				})
			}
		})
	}
}

func TestFixtureGoogleAdsKey(t *testing.T) {
	verify := verifierOf(t, "google_ads")
	found := false
	for _, f := range loadFixtures(t) {
		if f.registryName() != "google_ads" || f.Signing == nil {
			continue
		}
		found = true
		t.Run(f.file, func(t *testing.T) {
			// No signature: the body JSON is sent as is; json.RawMessage keeps
			// the fixture's own bytes.
			cfg := SourceConfig{Provider: "google_ads", Secret: secret.Secret(f.Signing.Secret)}
			r := httptest.NewRequest(http.MethodPost, "/hooks/google-ads", bytes.NewReader(f.Body))
			wantAccepted(t, verify(cfg, r, f.Body, signedAt))
			wantRejected(t, verify(withSecret(cfg, f.Signing.Secret+"x"), r, f.Body, signedAt), []string{"google_key"}, f.Signing.Secret)
		})
	}
	if !found {
		t.Fatal("no Google Ads fixture")
	}
}

func TestFixtureMetaHandshake(t *testing.T) {
	handshake := Providers()["meta"].Handshake
	found := false
	for _, f := range loadFixtures(t) {
		if f.registryName() != "meta" || f.Method != http.MethodGet {
			continue
		}
		found = true
		t.Run(f.file, func(t *testing.T) {
			cfg := SourceConfig{Provider: "meta", VerifyToken: secret.Secret(f.Signing.Secret)}
			r := httptest.NewRequest(http.MethodGet, f.PathHint, nil)
			for k, v := range f.Headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			if !handshake(cfg, w, r) {
				t.Fatal("the fixture's GET was not taken for a handshake")
			}
			if status, _ := f.Expect["respond_status"].(float64); w.Code != int(status) {
				t.Errorf("status %d, want %v", w.Code, f.Expect["respond_status"])
			}
			if body, _ := f.Expect["respond_body"].(string); w.Body.String() != body {
				t.Errorf("body %q, want %q", w.Body.String(), body)
			}
		})
	}
	if !found {
		t.Fatal("no Meta handshake fixture")
	}
}

// reindent re-encodes a JSON body with indentation: the same JSON value in
// other bytes, which must not verify.
func reindent(t *testing.T, body []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", " "); err != nil {
		t.Fatalf("raw_body is not JSON: %v", err)
	}
	return out.Bytes()
}

func setHeader(h http.Header, name, v string) http.Header {
	c := h.Clone()
	c.Set(name, v)
	return c
}

func delHeader(h http.Header, name string) http.Header {
	c := h.Clone()
	c.Del(name)
	return c
}
