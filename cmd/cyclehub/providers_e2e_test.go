package main

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
	"sync"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/samples"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

type fixture struct {
	Provider string            `json:"provider"`
	Headers  map[string]string `json:"headers"`
	Body     json.RawMessage   `json:"body"`
	Signing  *struct {
		Secret      string         `json:"secret"`
		KnownAnswer map[string]any `json:"known_answer"`
	} `json:"signing"`
	Expect   map[string]any  `json:"expect"`
	APIFetch json.RawMessage `json:"api_fetch"`
}

func (f *fixture) provider() string {
	switch f.Provider {
	case "google-ads":
		return "google_ads"
	case "html-form":
		return "form"
	}
	return f.Provider
}

func (f *fixture) body() []byte {
	if f.Signing != nil {
		if raw, ok := f.Signing.KnownAnswer["raw_body"].(string); ok {
			return []byte(raw)
		}
	}
	var s string
	if json.Unmarshal(f.Body, &s) == nil {
		return []byte(s)
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, f.Body)
	return buf.Bytes()
}

// knownAnswer returns a value of the signing block's known answer.
func (f *fixture) knownAnswer(key string) (string, bool) {
	if f.Signing == nil {
		return "", false
	}
	v, ok := f.Signing.KnownAnswer[key].(string)
	return v, ok
}

// region is the source's default region: the country the sample hints at
// ("SE (none in payload - needs a default region)"), else BR.
func (f *fixture) region() string {
	if hint, _ := f.Expect["country_hint"].(string); len(hint) >= 2 && strings.ToUpper(hint[:2]) == hint[:2] {
		return hint[:2]
	}
	return "BR"
}

// clock is the sample's signing time (plus a minute), so replay windows
// accept the recorded signature.
func (f *fixture) clock() time.Time {
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	if f.Signing != nil {
		if ts, ok := f.Signing.KnownAnswer["timestamp"].(string); ok {
			if ms, err := strconv.ParseInt(ts, 10, 64); err == nil {
				at = time.UnixMilli(ms)
			} else if t, err := time.Parse(time.RFC3339, ts); err == nil {
				at = t
			}
		}
	}
	return at.Add(time.Minute)
}

func (f *fixture) request(t *testing.T, addr, source string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/"+source, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range f.Headers {
		if strings.Contains(v, "<computed>") && f.Signing != nil {
			for ka, kv := range f.Signing.KnownAnswer {
				if strings.EqualFold(ka, k) {
					v, _ = kv.(string)
				}
			}
		}
		if strings.EqualFold(k, "Host") || strings.EqualFold(k, "Content-Length") {
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

func loadFixtures(t *testing.T) map[string]*fixture {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "fixtures", "*", "*.json"))
	if len(files) == 0 {
		testsvc.Require(t, "../shared/fixtures", "the shared sample requests are not beside the checkout")
	}
	out := map[string]*fixture{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(raw, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = &fx
	}
	return out
}

// Every provider sample, posted signed to the daemon, becomes the right
// customer; a tampered copy is refused; a redelivery has no effect.
func TestProviderSamplesBecomeCustomers(t *testing.T) {
	specs, err := configs.LoadMappings("../../configs/mappings")
	if err != nil {
		t.Fatal(err)
	}
	for name, fx := range loadFixtures(t) {
		provider := fx.provider()
		if len(fx.Body) == 0 || string(fx.Body) == "null" || (provider != "form" && specs[provider] == nil) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			_, brokers := testsvc.Kafka(t)
			cfg := testConfig(t, pgtest.URL(t), brokers)
			sc := webhooks.SourceConfig{Provider: provider, DefaultRegion: fx.region()}
			if fx.Signing != nil && fx.Signing.Secret != "" {
				if webhooks.Providers()[provider].Verify != nil {
					sc.Secret = secret.Secret(fx.Signing.Secret)
				} else {
					sc.Token = secret.Secret(fx.Signing.Secret)
				}
			}
			var api *fakeAPI
			if len(fx.APIFetch) > 0 {
				// Id-only providers: the daemon fetches from a loopback API
				// serving the sample's recorded answers.
				responses, err := samples.Responses(fx.APIFetch, nil)
				if err != nil {
					t.Fatal(err)
				}
				api = newFakeAPI(t, responses)
				sc.APIBase, sc.APIToken = api.URL, "test-api-token"
			}
			if uri, ok := fx.knownAnswer("uri"); ok {
				sc.PublicURL = uri // the URL HubSpot signed (CycleHub behind a proxy)
			}
			if provider == "meta" {
				sc.VerifyToken = "test-verify-token"
			}
			cfg.Sources = map[string]webhooks.SourceConfig{provider: sc}
			at := fx.clock()
			d := startDaemonAt(t, cfg, func() time.Time { return at })
			body := fx.body()

			signed := webhooks.Providers()[provider].Verify != nil
			if signed {
				// One more byte (or, where the key is in the body, another key).
				tampered := append(bytes.Clone(body), ' ')
				if provider == "google_ads" {
					tampered = bytes.Replace(body, []byte(fx.Signing.Secret), []byte("wrong-key"), 1)
				}
				if code, out := do(t, fx.request(t, d.httpAddr, provider, tampered)); code != http.StatusUnauthorized {
					t.Fatalf("tampered request: %d %v, want 401", code, out)
				}
			}
			code, out := do(t, fx.request(t, d.httpAddr, provider, body))
			if code != http.StatusAccepted {
				t.Fatalf("signed sample: %d %v, want 202", code, out)
			}
			if code, out := do(t, fx.request(t, d.httpAddr, provider, body)); code != http.StatusOK || out["status"] != "duplicate" {
				t.Fatalf("redelivery: %d %v, want 200 duplicate", code, out)
			}
			email, _ := fx.Expect["email"].(string)
			if email == "" {
				return
			}
			c := d.waitCustomer(email)
			traits := c["traits"].(map[string]any)
			for _, k := range []string{"email", "phone", "first_name", "last_name", "company"} {
				want, ok := fx.Expect[k].(string)
				if !ok {
					continue
				}
				if traits[k] != want {
					t.Errorf("traits.%s = %v, want %q", k, traits[k], want)
				}
			}
			// The interaction is on the customer's timeline with its properties.
			code, tl := d.admin("/v1/customers/" + c["id"].(string) + "/timeline")
			items, _ := tl["items"].([]any)
			if code != http.StatusOK || len(items) == 0 {
				t.Fatalf("timeline: %d %v", code, tl)
			}
			props, _ := items[len(items)-1].(map[string]any)["properties"].(map[string]any)
			for _, k := range []string{"ticket_id", "ticket_subject", "nps_score", "nps_comment", "conversation_id", "campaign", "form_id"} {
				want, ok := fx.Expect[k]
				if !ok || want == nil {
					continue
				}
				if fmt.Sprint(props[k]) != fmt.Sprint(want) {
					t.Errorf("timeline properties.%s = %v, want %v", k, props[k], want)
				}
			}
			if n := queryInt(t, d.cfg.Postgres.URL.Reveal(), `SELECT count(*) FROM inbox`); n != 1 {
				t.Errorf("%d inbox rows, want 1 (the redelivery must not be stored)", n)
			}
			if api != nil {
				for _, a := range api.Auth() {
					if !strings.Contains(a, "test-api-token") {
						t.Errorf("an API call was made without the source's token: %q", a)
					}
				}
				if n := queryInt(t, d.cfg.Postgres.URL.Reveal(), `SELECT count(*) FROM customers`); n != 1 {
					t.Errorf("%d customers, want 1 (the records of one person collapse into one)", n)
				}
			}
		})
	}
}

// fakeAPI is a loopback provider API serving recorded answers.
type fakeAPI struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string
	auth  []string
}

// newFakeAPI serves responses (JSON null and unknown paths answer 404). It is
// closed when the test ends.
func newFakeAPI(t testing.TB, responses map[string]json.RawMessage) *fakeAPI {
	t.Helper()
	a := &fakeAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.calls = append(a.calls, r.URL.RequestURI())
		a.auth = append(a.auth, r.Header.Get("Authorization")+r.Header.Get("X-Api-Token"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		body, ok := samples.Lookup(responses, r.URL.EscapedPath())
		if !ok || string(body) == "null" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"not found"}}`))
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(a.Close)
	return a
}

// Calls returns the request URIs received so far.
func (a *fakeAPI) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// Auth returns the credentials (Authorization or X-API-TOKEN) of each call.
func (a *fakeAPI) Auth() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth...)
}

// SIGHUP reloads the mappings: a changed mapping applies to the requests
// mapped afterwards, and a broken one is refused, keeping the last good.
func TestReloadingMappingsAppliesChangesAndKeepsTheLastGoodOnError(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "nps.yaml"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const v1 = "provider: nps\nidentities: {email: {path: email}}\nproperties: {score: {path: score, transforms: [nps]}}\n"
	write(v1)
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pgtest.URL(t), brokers)
	cfg.MappingsDir = dir
	specs, err := configs.LoadMappings(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mappings = specs
	cfg.Sources["nps"] = webhooks.SourceConfig{Provider: "nps"}
	d := startDaemon(t, cfg)
	post := func(email string) {
		t.Helper()
		if code, out := d.post("/hooks/nps", "application/json", `{"email":"`+email+`","score":9,"org":"Acme"}`); code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, out)
		}
	}
	post("before@example.com")
	if c := d.waitCustomer("before@example.com"); c["traits"].(map[string]any)["company"] != nil {
		t.Fatalf("v1 maps no company: %v", c)
	}

	write(v1 + "traits: {company: {path: org}}\n")
	d.reload()
	post("after@example.com")
	if c := d.waitCustomer("after@example.com"); c["traits"].(map[string]any)["company"] != "Acme" {
		t.Fatalf("the reloaded mapping was not applied: %v", c)
	}

	write("provider: nps\nidentities: {email: {path: [broken\n")
	d.reload()
	post("broken@example.com")
	if c := d.waitCustomer("broken@example.com"); c["traits"].(map[string]any)["company"] != "Acme" {
		t.Fatalf("a broken mapping replaced the last good one: %v", c)
	}
}
