package configs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/samples"
	"github.com/cyclehub/cyclehub/mapping"
)

var update = flag.Bool("update", false, "rewrite the mapping golden files")

// mappingCase is a sample request in the format of ../shared/fixtures:
// headers, body (a string, or JSON), expect (the fields a correct
// normalizer extracts; null means absent).
type mappingCase struct {
	Provider string            `json:"provider"`
	Headers  map[string]string `json:"headers"`
	Body     json.RawMessage   `json:"body"`
	Signing  *struct {
		KnownAnswer struct {
			RawBody string `json:"raw_body"`
		} `json:"known_answer"`
	} `json:"signing"`
	Query  string         `json:"query"`
	Region string         `json:"default_region"`
	Expect map[string]any `json:"expect"`
	// APIFetch is the shared fixtures' API call (one, or a list): url and
	// response (or response_excerpt).
	APIFetch json.RawMessage `json:"api_fetch"`
	// APIResponses are our cases' API answers by URL path (no query); null
	// is a 404.
	APIResponses map[string]json.RawMessage `json:"api_responses"`
}

// fetch answers the spec's API calls from the case's responses.
func (c *mappingCase) fetch(t *testing.T, spec *mapping.Compiled, doc *mapping.Document) mapping.Fetched {
	t.Helper()
	responses, err := samples.Responses(c.APIFetch, c.APIResponses)
	if err != nil {
		t.Fatal(err)
	}
	fetched := mapping.Fetched{}
	for {
		f, err := spec.NextFetch(doc, fetched)
		if err != nil || f == nil {
			return fetched
		}
		body, ok := samples.Lookup(responses, f.Path)
		if !ok {
			t.Fatalf("no API response in the case for GET %s", f.Path)
		}
		if string(body) == "null" && !f.Optional {
			// The fetcher quarantines a 404 on a required document; the
			// mapping never sees it.
			t.Fatalf("the case answers 404 to GET %s, which is not optional: production quarantines such a request", f.Path)
		}
		if fetched[f.Record] == nil {
			fetched[f.Record] = map[string]json.RawMessage{}
		}
		fetched[f.Record][f.Name] = body
	}
}

// fixtureProviders maps the shared fixtures' provider names to ours.
var fixtureProviders = map[string]string{"google-ads": "google_ads", "html-form": "form"}

func (c *mappingCase) provider() string {
	if p, ok := fixtureProviders[c.Provider]; ok {
		return p
	}
	return c.Provider
}

func (c *mappingCase) request() *mapping.RawRequest {
	body := []byte(nil)
	switch {
	case c.Signing != nil && c.Signing.KnownAnswer.RawBody != "":
		body = []byte(c.Signing.KnownAnswer.RawBody)
	case len(c.Body) > 0 && c.Body[0] == '"':
		var s string
		_ = json.Unmarshal(c.Body, &s)
		body = []byte(s)
	default:
		var buf bytes.Buffer
		_ = json.Compact(&buf, c.Body)
		body = buf.Bytes()
	}
	return &mapping.RawRequest{
		RequestID: "00000000-0000-0000-0000-000000000001", Source: c.provider(), Provider: c.provider(),
		Method: "POST", Path: "/hooks/" + c.provider(), Query: c.Query, Headers: c.Headers, Body: body,
		ReceivedAt: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC),
	}
}

// mappingCases returns the shared fixtures plus our own cases under
// mappings/testdata/<provider>/.
func mappingCases(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	shared := filepath.Join("..", "..", "shared", "fixtures")
	files, _ := filepath.Glob(filepath.Join(shared, "*", "*.json"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no fixtures under %s (CI=true: ../shared must be beside the checkout)", shared)
		}
		t.Logf("no shared fixtures under %s; testing local cases only", shared)
	}
	local, _ := filepath.Glob(filepath.Join("mappings", "testdata", "*", "*.json"))
	for _, f := range append(files, local...) {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		out[f] = f
	}
	return out
}

func TestEveryMappingFileLoads(t *testing.T) {
	if _, err := configs.LoadMappings("mappings"); err != nil {
		t.Fatalf("configs/mappings:\n%v", err)
	}
}

// Every sample request comes out as the fields its expect block names, and
// as its golden canonical events.
func TestMappingsAgainstSamples(t *testing.T) {
	specs, err := configs.LoadMappings("mappings")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range sortedKeys(mappingCases(t)) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var c mappingCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		provider := c.provider()
		spec := specs[provider]
		if spec == nil || len(c.Body) == 0 || string(c.Body) == "null" {
			continue // the code-built form mapper and handshakes are tested elsewhere
		}
		if hint, _ := c.Expect["country_hint"].(string); c.Region == "" && len(hint) >= 2 && mapping.CountryCode(hint[:2]) == hint[:2] {
			// "SE (none in payload - needs a default region)": the source's
			// default region.
			c.Region = hint[:2]
		}
		name := provider + "/" + strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			req := c.request()
			m := mapping.NewMapper(map[string]mapping.SourceSpec{provider: {Provider: provider, DefaultRegion: c.Region}}, specs)
			doc, derr := spec.Decode(req)
			if c.Expect["ignored"] == true {
				// Acknowledged at the edge: never fetched, never mapped.
				if derr != nil || !spec.Ignored(doc) {
					t.Fatalf("request not ignored (decode err %v)", derr)
				}
				return
			}
			if derr == nil {
				req.Fetched = c.fetch(t, spec, doc)
			}
			evs, err := m.Map(req)
			checkGolden(t, filepath.Join("mappings", "testdata", provider, strings.TrimSuffix(filepath.Base(path), ".json")+".golden.json"), evs, err)
			if want, ok := c.Expect["error"].(string); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want one containing %q", err, want)
				}
				return
			}
			if derr == nil && spec.Ignored(doc) {
				t.Fatal("a request the case expects to map is ignored as a provider test or ping")
			}
			if err != nil {
				t.Fatalf("map: %v", err)
			}
			if want, ok := c.Expect["dedup_key"].(string); ok {
				if got := spec.DedupKey(doc); got != want {
					t.Errorf("dedup key = %q, want %q", got, want)
				}
			}
			// "events": N checks how many events the request maps to (0 when
			// every record of a batch is skipped: a test lead, a deletion).
			if want, ok := c.Expect["events"].(float64); ok && len(evs) != int(want) {
				t.Fatalf("%d events, want %v", len(evs), want)
			}
			if len(evs) == 0 {
				if _, ok := c.Expect["events"]; !ok {
					t.Fatal("no events (every record skipped): say \"events\": 0 in expect if that is meant")
				}
				return
			}
			checkExpect(t, evs[0], c.Expect)
		})
	}
}

// ignoredExpect are expect keys that describe the sample, not a field.
var ignoredExpect = map[string]bool{
	"source": true, "dedup_key": true, "dedup_keys": true, "records": true, "requires_api_fetch": true,
	"phone_raw": true, "country_hint": true, "custom_answers": true, "error": true, "ignored": true,
	"events": true,
}

func checkExpect(t *testing.T, ev *mapping.Event, expect map[string]any) {
	t.Helper()
	touch := map[string]string{}
	if a := ev.Attribution; a != nil {
		touch = map[string]string{"utm_source": a.Source, "utm_medium": a.Medium, "utm_campaign": a.Campaign,
			"utm_term": a.Term, "utm_content": a.Content, "gclid": a.Gclid, "fbclid": a.Fbclid, "page_url": a.PageURL}
	}
	ids := map[string]string{}
	for _, id := range ev.Identities {
		ids[string(id.Type)] = id.Value
	}
	for key, want := range expect {
		if ignoredExpect[key] || strings.HasSuffix(key, "_note") {
			continue
		}
		got, found := "", false
		for _, lookup := range []func() (string, bool){
			func() (string, bool) { v, ok := ids[key]; return v, ok },
			func() (string, bool) { v, ok := ev.Traits[key]; return v, ok },
			func() (string, bool) { v, ok := touch[key]; return v, ok && v != "" },
			func() (string, bool) {
				v, ok := ev.Properties[key]
				if !ok {
					return "", false
				}
				if s, isStr := v.(string); isStr {
					return s, true
				}
				b, _ := json.Marshal(v)
				return string(b), true
			},
		} {
			if got, found = lookup(); found {
				break
			}
		}
		if want == nil {
			if found && got != "" {
				t.Errorf("%s = %q, want it absent", key, got)
			}
			continue
		}
		wantStr := fmt.Sprint(want)
		if b, err := json.Marshal(want); err == nil && !isString(want) {
			wantStr = string(b)
		}
		if !found || got != wantStr {
			t.Errorf("%s = %q (found %v), want %q", key, got, found, wantStr)
		}
	}
}

func isString(v any) bool { _, ok := v.(string); return ok }

func checkGolden(t *testing.T, path string, evs []*mapping.Event, err error) {
	t.Helper()
	var v any = evs
	if err != nil {
		v = map[string]string{"error": err.Error()}
	}
	checkJSONGolden(t, path, v)
}

// checkJSONGolden compares v, as indented JSON, with the golden file at
// path (rewritten with -update).
func checkJSONGolden(t *testing.T, path string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if e := enc.Encode(v); e != nil {
		t.Fatal(e)
	}
	if *update {
		if e := os.MkdirAll(filepath.Dir(path), 0o755); e != nil {
			t.Fatal(e)
		}
		if e := os.WriteFile(path, buf.Bytes(), 0o644); e != nil {
			t.Fatal(e)
		}
		return
	}
	want, e := os.ReadFile(path)
	if errors.Is(e, os.ErrNotExist) {
		t.Fatalf("no golden file %s: run go test ./configs -update and review it", path)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("%s differs from the golden file (rerun with -update and review the diff):\n%s", path, buf.String())
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
