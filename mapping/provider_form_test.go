package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/form/*.golden.json from the mapper's current output")

// formCase is one request in testdata/form/<name>.json.
type formCase struct {
	Note          string            `json:"note"`
	Source        string            `json:"source"`
	DefaultRegion string            `json:"default_region"`
	ContentType   string            `json:"content_type"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	ReceivedAt    time.Time         `json:"received_at"`
}

func (c formCase) request() *RawRequest {
	headers := map[string]string{}
	for k, v := range c.Headers {
		headers[k] = v
	}
	if c.ContentType != "" {
		headers["Content-Type"] = c.ContentType
	}
	source := c.Source
	if source == "" {
		source = "website"
	}
	return &RawRequest{
		RequestID:  "00000000-0000-4000-8000-000000000001",
		Source:     source,
		Provider:   "form",
		Method:     "POST",
		Path:       "/hooks/" + source,
		Headers:    headers,
		Body:       []byte(c.Body),
		ReceivedAt: c.ReceivedAt,
	}
}

func loadFormCase(t testing.TB, path string) formCase {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c formCase
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if c.ReceivedAt.IsZero() {
		t.Fatalf("%s: received_at is required", path)
	}
	return c
}

// goldenOutcome is what a golden file holds: the event, or the error
// (its Go type says how the pipeline treats it).
func goldenOutcome(evs []*Event, err error) ([]byte, error) {
	var v any = evs
	if len(evs) == 1 {
		v = evs[0]
	}
	if err != nil {
		v = struct {
			ErrorType string `json:"error_type"`
			Error     string `json:"error"`
		}{fmt.Sprintf("%T", err), err.Error()}
	}
	// Not json.MarshalIndent: it escapes '&', '<' and '>', which would hide
	// whether text is kept as sent.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TestMapFormGolden maps every request in testdata/form and compares the
// canonical event (or the error) with <name>.golden.json. Run with -update
// to rewrite the golden files, then review the diff.
func TestMapFormGolden(t *testing.T) {
	paths, err := globFormCases()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			c := loadFormCase(t, path)
			req := c.request()
			m := NewMapper(map[string]SourceSpec{req.Source: {Provider: "form", DefaultRegion: c.DefaultRegion}}, nil)
			got, err := goldenOutcome(m.Map(req))
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".json") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if errors.Is(err, os.ErrNotExist) {
				t.Fatalf("no golden file %s: run go test ./mapping -run TestMapFormGolden -update and review it", golden)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s (%s)\nmapped event differs from %s\n got:\n%s\nwant:\n%s", name, c.Note, golden, got, want)
			}
		})
	}
	if len(paths) == 0 {
		t.Fatal("no cases in testdata/form")
	}
}

// globFormCases lists the request files in testdata/form (not the goldens).
func globFormCases() ([]string, error) {
	all, err := filepath.Glob(filepath.Join("testdata", "form", "*.json"))
	var cases []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".golden.json") {
			cases = append(cases, p)
		}
	}
	return cases, err
}

// TestFormGoldenFilesHaveCases keeps testdata tidy: a golden file whose
// request was deleted or renamed would silently stop being checked.
func TestFormGoldenFilesHaveCases(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "form", "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		req := strings.TrimSuffix(g, ".golden.json") + ".json"
		if _, err := os.Stat(req); err != nil {
			t.Errorf("%s has no request file %s", g, req)
		}
	}
}

// sharedFixture is the shape of the shared web_forms fixtures (a verbatim
// copy lives in testdata/fixtures).
type sharedFixture struct {
	Headers     map[string]string `json:"headers"`
	ContentType string            `json:"content_type"`
	Body        string            `json:"body"`
	Expect      map[string]any    `json:"expect"`
}

func loadSharedFixture(t testing.TB, name string) sharedFixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	var fx sharedFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

func TestMapFormHTMLFormFixtureMeetsItsExpectations(t *testing.T) {
	fx := loadSharedFixture(t, "html-form-basic-utm.json")
	req := &RawRequest{
		Source:     "website",
		Provider:   "form",
		Headers:    fx.Headers,
		Body:       []byte(fx.Body),
		ReceivedAt: time.Date(2025, 3, 14, 11, 2, 7, 0, time.UTC),
	}
	ev, err := MapForm(req, FormOptions{})
	if err != nil {
		t.Fatalf("MapForm: %v", err)
	}
	want := func(key string) string {
		t.Helper()
		s, ok := fx.Expect[key].(string)
		if !ok {
			t.Fatalf("fixture expect.%s is not a string", key)
		}
		return s
	}
	if ev.Attribution == nil {
		t.Fatal("no attribution, want the fixture's UTMs")
	}
	var msg, phoneRaw string
	if v, ok := ev.Properties["message"].(string); ok {
		msg = v
	}
	if v, ok := ev.Properties["phone_raw"].(string); ok {
		phoneRaw = v
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"the email is trimmed and lowercased", ev.Traits["email"], want("email")},
		{"the phone is in E.164", ev.Traits["phone"], want("phone")},
		{"the phone as typed is kept in properties", phoneRaw, want("phone_raw")},
		{"the first name is kept", ev.Traits["first_name"], want("first_name")},
		{"the last name is kept", ev.Traits["last_name"], want("last_name")},
		{"the company is decoded from '+'", ev.Traits["company"], want("company")},
		{"utm_source comes from the hidden field", ev.Attribution.Source, want("utm_source")},
		{"utm_medium comes from the hidden field", ev.Attribution.Medium, want("utm_medium")},
		{"utm_campaign comes from the hidden field", ev.Attribution.Campaign, want("utm_campaign")},
		{"utm_term keeps its spaces", ev.Attribution.Term, want("utm_term")},
		{"utm_content comes from the hidden field", ev.Attribution.Content, want("utm_content")},
		{"the gclid is kept", ev.Attribution.Gclid, want("gclid")},
		{"the message keeps its UTF-8 accents", msg, want("message")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	wantIDs := []Identity{{IdentityEmail, want("email")}, {IdentityPhone, want("phone")}}
	if !reflect.DeepEqual(ev.Identities, wantIDs) {
		t.Errorf("identities = %v, want %v", ev.Identities, wantIDs)
	}
	if ev.Type != "form_submitted" || !ev.OccurredAt.Equal(req.ReceivedAt) {
		t.Errorf("type %q at %v, want form_submitted at the receipt time %v", ev.Type, ev.OccurredAt, req.ReceivedAt)
	}

	// The golden case is this fixture, byte for byte.
	c := loadFormCase(t, filepath.Join("testdata", "form", "html-form-basic-utm.json"))
	if c.Body != fx.Body || c.ContentType != fx.ContentType || !reflect.DeepEqual(c.Headers, fx.Headers) {
		t.Error("testdata/form/html-form-basic-utm.json drifted from testdata/fixtures/html-form-basic-utm.json")
	}
}

func TestMapFormFieldNames(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		ct     string
		body   string
		traits map[string]string
	}{
		{
			name:   "label-style names with spaces and capitals match their aliases",
			body:   "Email+Address=a%40example.com&First+Name=Ana&Last+Name=Lima&Company+Name=ACME",
			traits: map[string]string{"email": "a@example.com", "first_name": "Ana", "last_name": "Lima", "full_name": "Ana Lima", "company": "ACME"},
		},
		{
			name:   "bracketed names inside a known container are read by their inner name",
			body:   "contact%5Bemail%5D=a%40example.com&contact%5Bfirst_name%5D=Ana",
			traits: map[string]string{"email": "a@example.com", "first_name": "Ana", "full_name": "Ana"},
		},
		{
			name:   "a field's own name wins over a nested one that came first",
			ct:     "application/json",
			body:   `{"contact":{"email":"owner@example.com"},"email":"lead@example.com"}`,
			traits: map[string]string{"email": "lead@example.com"},
		},
		{
			name:   "an empty field falls back to the next alias",
			body:   "email=&your-email=b%40example.com",
			traits: map[string]string{"email": "b@example.com"},
		},
		{
			name:   "a flat form-name hidden field is not the person's name",
			body:   "form-name=newsletter&email=a%40example.com",
			traits: map[string]string{"email": "a@example.com"},
		},
		{
			name:   "a flat form_title is not the person's job title",
			body:   "email=a%40example.com&form_title=Webinar+signup",
			traits: map[string]string{"email": "a@example.com"},
		},
		{
			name:   "first and last name win over a full name field",
			body:   "name=Someone+Else&first_name=Ana&last_name=Lima&email=a%40example.com",
			traits: map[string]string{"email": "a@example.com", "first_name": "Ana", "last_name": "Lima", "full_name": "Someone Else"},
		},
		{
			name:   "a two-letter country field sets the region for a national phone",
			body:   "email=a%40example.com&phone=601+234+567&country=pl",
			traits: map[string]string{"email": "a@example.com", "phone": "+48601234567", "phone_country": "PL", "country": "PL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ct
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			ev, err := MapForm(&RawRequest{Source: "s", Headers: map[string]string{"content-type": ct}, Body: []byte(tt.body), ReceivedAt: at}, FormOptions{DefaultRegion: "BR"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ev.Traits, tt.traits) {
				t.Errorf("traits = %v\nwant %v", ev.Traits, tt.traits)
			}
		})
	}
}

func TestMapFormErrors(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		ct   string
		body string
		want any // pointer to the error type wanted
	}{
		{"a form without email or phone is unmappable", "application/x-www-form-urlencoded", "first_name=Ana&message=hi", new(*UnmappableError)},
		{"a junk email and an invalid phone are unmappable", "application/x-www-form-urlencoded", "email=test&phone=0000", new(*UnmappableError)},
		{"an email without a domain is unmappable", "application/x-www-form-urlencoded", "email=ana%40localhost", new(*UnmappableError)},
		{"a malformed body is malformed", "application/x-www-form-urlencoded", "email=%zz", new(*MalformedError)},
		{"an unsupported content type is a 415", "text/plain", "email=a@example.com", new(*UnsupportedMediaError)},
		{"a request without a content type is a 415", "", "email=a@example.com", new(*UnsupportedMediaError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.ct != "" {
				h["Content-Type"] = tt.ct
			}
			ev, err := MapForm(&RawRequest{Headers: h, Body: []byte(tt.body), ReceivedAt: at}, FormOptions{})
			if err == nil {
				t.Fatalf("got event %+v, want an error", ev)
			}
			if !errors.As(err, tt.want) {
				t.Errorf("error %T (%v), want %T", err, err, reflect.ValueOf(tt.want).Elem().Interface())
			}
		})
	}
}

func TestMapperMap(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 30, 0, 0, time.UTC)
	body := []byte("email=a%40example.com&phone=11+98765-4321")
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	m := NewMapper(map[string]SourceSpec{
		"site-br":  {Provider: "form", DefaultRegion: "BR"},
		"typeform": {Provider: "typeform"},
	}, nil)
	t.Run("a configured source reads national phones with its default region", func(t *testing.T) {
		evs, err := m.Map(&RawRequest{Source: "site-br", Provider: "form", Headers: form, Body: body, ReceivedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		ev := evs[0]
		if ev.Traits["phone"] != "+5511987654321" {
			t.Errorf("phone = %q, want +5511987654321", ev.Traits["phone"])
		}
	})
	t.Run("a source removed from the config is mapped by its stored provider without a region", func(t *testing.T) {
		evs, err := m.Map(&RawRequest{Source: "gone", Provider: "form", Headers: form, Body: body, ReceivedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		ev := evs[0]
		if _, ok := ev.Traits["phone"]; ok {
			t.Errorf("national phone mapped without a region: %q", ev.Traits["phone"])
		}
		if ev.Properties["phone_raw"] != "11 98765-4321" {
			t.Errorf("phone_raw = %v, want the phone as typed", ev.Properties["phone_raw"])
		}
	})
	t.Run("a provider without a mapping is unmappable", func(t *testing.T) {
		_, err := m.Map(&RawRequest{Source: "typeform", Provider: "typeform", Headers: form, Body: body, ReceivedAt: at})
		var u *UnmappableError
		if !errors.As(err, &u) || !strings.Contains(u.Reason, `"typeform"`) {
			t.Errorf("err = %v, want *UnmappableError naming the provider", err)
		}
	})
}

func TestRawRequestHeaders(t *testing.T) {
	r := &RawRequest{Headers: map[string]string{"content-type": "Application/JSON; charset=utf-8", "Referer": "https://x.example"}}
	tests := []struct {
		name, got, want string
	}{
		{"a header is found whatever the case of its stored name", r.Header("Content-Type"), "Application/JSON; charset=utf-8"},
		{"a header is found whatever the case of the asked name", r.Header("referer"), "https://x.example"},
		{"a missing header is empty", r.Header("Origin"), ""},
		{"the content type drops parameters and is lowercased", r.ContentType(), "application/json"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
