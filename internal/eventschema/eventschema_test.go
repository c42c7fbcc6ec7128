package eventschema_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/eventschema"
	"github.com/cyclehub/cyclehub/mapping"
)

var allTypes = []string{
	mapping.TypeCustomerCreated, mapping.TypeCustomerUpdated, mapping.TypeCustomerMerged,
	mapping.TypeCustomerErased, mapping.TypeStageChanged, mapping.TypeScoreChanged,
}

func TestEverySchemaCompiles(t *testing.T) {
	v, err := eventschema.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(allTypes))
	if got := v.Types(); !slices.Equal(got, want) {
		t.Fatalf("data schemas for %v, want one per event type %v", got, want)
	}
	// Every file is a draft 2020-12 schema, and the envelope lists exactly
	// the types that have a data schema.
	paths, err := filepath.Glob("schemas/*.json")
	if err != nil || len(paths) != len(allTypes)+2 {
		t.Fatalf("schema files %v (%v), want the envelope, defs and one per type", paths, err)
	}
	for _, p := range paths {
		var doc struct {
			Schema     string `json:"$schema"`
			Properties struct {
				Type struct {
					Enum []string `json:"enum"`
				} `json:"type"`
			} `json:"properties"`
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %q, want draft 2020-12", p, doc.Schema)
		}
		if filepath.Base(p) == "cloudevent.json" && !slices.Equal(slices.Sorted(slices.Values(doc.Properties.Type.Enum)), want) {
			t.Errorf("cloudevent.json: type enum %v, want %v", doc.Properties.Type.Enum, want)
		}
	}
}

const (
	anaID   = "0195a3c4-7d2e-7a10-8f00-0123456789ab"
	otherID = "0195a3c4-7d2e-7a10-8f00-0123456789cd"
	reqID   = "01a2095c-7a4f-75a4-8c90-5b32e4144784"
)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func formTrigger() mapping.Trigger {
	return mapping.Trigger{Source: "form", EventType: "form_submitted", RequestID: reqID,
		OccurredAt: t0.In(time.FixedZone("BRT", -3*3600))}
}

func sweepTrigger() mapping.Trigger {
	return mapping.Trigger{Source: "cyclehub", EventType: "lifecycle.sweep", OccurredAt: t0.Add(24 * time.Hour)}
}

// newCustomer applies ev to a new record, as the pipeline does, and bumps
// the version.
func newCustomer(id string, ev *mapping.Event) (*mapping.Customer, mapping.Change) {
	c := mapping.NewCustomer(id, ev)
	ch := c.Apply(ev, reqID, mapping.DefaultSurvivorship())
	ch.Created = true
	c.Version++
	return c, ch
}

func formEvent(traits map[string]string) *mapping.Event {
	return &mapping.Event{Source: "form", Provider: "form", Type: "form_submitted", OccurredAt: t0,
		Identities: []mapping.Identity{{Type: mapping.IdentityEmail, Value: traits["email"]}}, Traits: traits}
}

func scored(c *mapping.Customer, stage, status string) *mapping.Customer {
	c.Lifecycle.Stage, c.Lifecycle.StageEnteredAt, c.Lifecycle.Status = stage, t0, status
	c.Lifecycle.Scores = mapping.Scores{Fit: 40, Engagement: 22.74, Health: 80, HealthZone: "green", Band: "B3",
		Model: "2026-11-29.1", Contributions: map[string][]mapping.Contribution{
			"engagement": {{Rule: "demo_request", Points: 22.74}}, "fit": {{Rule: "business_email", Points: 40}}, "health": {},
		}}
	return c
}

type eventCase struct {
	name  string
	build func() (*mapping.CloudEvent, error)
	typ   string
	// has and lacks are data fields the case is about: optional fields
	// present or left out.
	has, lacks []string
}

func eventCases() []eventCase {
	plain := func() *mapping.Customer {
		c, _ := newCustomer(anaID, formEvent(map[string]string{"email": "ana@example.com", "first_name": "Ana", "company": "Lima Ltda"}))
		return c
	}
	return []eventCase{
		{
			name: "created without attribution or consent",
			build: func() (*mapping.CloudEvent, error) {
				c, ch := newCustomer(anaID, formEvent(map[string]string{"email": "ana@example.com", "first_name": "Ana", "company": "Lima Ltda"}))
				return mapping.ChangedEvent(c, ch, formTrigger())
			},
			typ: mapping.TypeCustomerCreated, has: []string{"changed_traits", "traits"},
			lacks: []string{"first_touch", "last_touch", "consent", "changed_consent"},
		},
		{
			name: "created with attribution and consent",
			build: func() (*mapping.CloudEvent, error) {
				ev := formEvent(map[string]string{"email": "ana@example.com", "company": "Lima Ltda", "phone_country": "BR"})
				ev.Attribution = &mapping.Touch{Source: "google", Medium: "cpc", Campaign: "spring", Term: "crm", Content: "ad1",
					Gclid: "Cj0K", Fbclid: "fb1", LiFatID: "li1", PageURL: "https://acme.example/demo?email=ana%40example.com#form",
					Referrer: "https://www.google.com/search?q=crm", CycleSource: "form", At: t0}
				ev.Attribution.Channel = mapping.Channel(ev.Attribution)
				ev.Consent = []mapping.ConsentChoice{
					{Purpose: "email_marketing", Status: mapping.ConsentGranted, Method: "checkbox"},
					{Purpose: "sms_marketing", Status: mapping.ConsentDenied, Method: "checkbox"},
				}
				c, ch := newCustomer(anaID, ev)
				return mapping.ChangedEvent(c, ch, formTrigger())
			},
			typ: mapping.TypeCustomerCreated, has: []string{"first_touch", "last_touch", "consent", "changed_consent"},
		},
		{
			name: "updated by a consent change alone",
			build: func() (*mapping.CloudEvent, error) {
				c := plain()
				ev := formEvent(map[string]string{"email": "ana@example.com"})
				ev.OccurredAt = t0.Add(time.Hour)
				ev.Consent = []mapping.ConsentChoice{{Purpose: "email_marketing", Status: mapping.ConsentDenied, Method: "unsubscribe_link"}}
				ch := c.Apply(ev, reqID, mapping.DefaultSurvivorship())
				c.Version++
				return mapping.ChangedEvent(c, ch, formTrigger())
			},
			typ: mapping.TypeCustomerUpdated, has: []string{"changed_traits", "consent", "changed_consent"},
			lacks: []string{"first_touch"},
		},
		{
			name: "merged on the survivor's key, with changed traits",
			build: func() (*mapping.CloudEvent, error) {
				s, m := plain(), mapping.NewCustomer(otherID, formEvent(nil))
				m.Version = 4
				m.Traits["job_title"] = mapping.TraitValue{Value: "CTO", Source: "form", ObservedAt: t0}
				changed := s.Absorb(m, mapping.DefaultSurvivorship())
				s.Version++
				return mapping.MergedEvent(s, s.ID, m.ID, mapping.IdentityEmail, changed, formTrigger())
			},
			typ: mapping.TypeCustomerMerged, has: []string{"changed_traits"},
		},
		{
			name: "merged on the merged record's key",
			build: func() (*mapping.CloudEvent, error) {
				m := &mapping.Customer{ID: otherID, Version: 5}
				return mapping.MergedEvent(m, anaID, otherID, mapping.IdentityUserID, nil, formTrigger())
			},
			typ: mapping.TypeCustomerMerged, lacks: []string{"changed_traits"},
		},
		{
			name: "erased",
			build: func() (*mapping.CloudEvent, error) {
				return mapping.ErasedEvent(&mapping.Customer{ID: anaID, Version: 9}, "", t0)
			},
			typ: mapping.TypeCustomerErased, lacks: []string{"survivor_id"},
		},
		{
			name: "erased, merged into the erased survivor",
			build: func() (*mapping.CloudEvent, error) {
				return mapping.ErasedEvent(&mapping.Customer{ID: otherID, Version: 6}, anaID, t0)
			},
			typ: mapping.TypeCustomerErased, has: []string{"survivor_id"},
		},
		{
			name: "stage_changed to a first stage",
			build: func() (*mapping.CloudEvent, error) {
				c := scored(plain(), "marketingqualifiedlead", "")
				c.Version++
				ch := mapping.LifecycleChange{StageTo: "marketingqualifiedlead", StageRule: "mql", Direction: "forward", BandTo: "B3"}
				return mapping.StageChangedEvent(c, ch, mapping.PhaseQualification, formTrigger())
			},
			typ: mapping.TypeStageChanged, has: []string{"from_stage", "phase", "scores"},
			lacks: []string{"reason", "customer_status"},
		},
		{
			name: "stage_changed forward into a customer stage",
			build: func() (*mapping.CloudEvent, error) {
				c := scored(plain(), "customer", mapping.StatusActive)
				c.Lifecycle.Scores.NPSCategory = "promoter"
				c.Version++
				ch := mapping.LifecycleChange{StageFrom: "marketingqualifiedlead", StageTo: "customer", StageRule: "customer",
					Direction: "forward", TimeInPrevious: 12*24*time.Hour + 1500*time.Millisecond, StatusTo: mapping.StatusActive}
				return mapping.StageChangedEvent(c, ch, mapping.PhaseRetention, formTrigger())
			},
			typ: mapping.TypeStageChanged, has: []string{"customer_status", "phase"}, lacks: []string{"reason"},
		},
		{
			name: "stage_changed backward to an unranked stage, by the sweeper",
			build: func() (*mapping.CloudEvent, error) {
				c := scored(plain(), "other", "")
				c.Version++
				ch := mapping.LifecycleChange{StageFrom: "lead", StageTo: "other", StageRule: "disqualified",
					Reason: "not a fit", Direction: "backward", TimeInPrevious: time.Hour}
				return mapping.StageChangedEvent(c, ch, "", sweepTrigger())
			},
			typ: mapping.TypeStageChanged, has: []string{"reason"}, lacks: []string{"phase", "customer_status"},
		},
		{
			name: "score_changed with a crossing and a status change",
			build: func() (*mapping.CloudEvent, error) {
				c := scored(plain(), "customer", mapping.StatusAtRisk)
				c.Lifecycle.Scores.Health, c.Lifecycle.Scores.HealthZone = 50, "red"
				c.Lifecycle.Scores.Contributions["health"] = []mapping.Contribution{{Rule: "support_load", Points: -30}}
				c.Version++
				ch := mapping.LifecycleChange{StageFrom: "customer", StageTo: "customer", BandFrom: "B3", BandTo: "B3",
					Crossed: []string{"health"}, StatusFrom: mapping.StatusActive, StatusTo: mapping.StatusAtRisk}
				return mapping.ScoreChangedEvent(c, ch, formTrigger())
			},
			typ: mapping.TypeScoreChanged,
			has: []string{"band_from", "band_to", "crossed", "customer_status_from", "customer_status_to", "contributions"},
		},
		{
			name: "score_changed on a first scoring without a stage move",
			build: func() (*mapping.CloudEvent, error) {
				c := scored(plain(), "", "")
				c.Version++
				ch := mapping.LifecycleChange{BandTo: "B3"}
				return mapping.ScoreChangedEvent(c, ch, sweepTrigger())
			},
			typ: mapping.TypeScoreChanged, has: []string{"band_to"},
			lacks: []string{"band_from", "crossed", "customer_status_from", "customer_status_to"},
		},
	}
}

func TestMappingEventsMatchTheirSchemas(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			ce, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			if ce.Type != tc.typ {
				t.Fatalf("type %s, want %s", ce.Type, tc.typ)
			}
			raw, err := json.Marshal(ce)
			if err != nil {
				t.Fatal(err)
			}
			var data map[string]any
			if err := json.Unmarshal(ce.Data, &data); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.has {
				if _, ok := data[k]; !ok {
					t.Errorf("data has no %s, the case is about it: %s", k, ce.Data)
				}
			}
			for _, k := range tc.lacks {
				if _, ok := data[k]; ok {
					t.Errorf("data has %s, the case is about its absence: %s", k, ce.Data)
				}
			}
			if err := eventschema.Validate(raw); err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			covered[tc.typ] = true
		})
	}
	for _, typ := range allTypes {
		if !covered[typ] {
			t.Errorf("no valid event of type %s was checked", typ)
		}
	}
}

// caseEvent builds the event of the named case, as a map to break.
func caseEvent(t *testing.T, name string) map[string]any {
	t.Helper()
	i := slices.IndexFunc(eventCases(), func(c eventCase) bool { return c.name == name })
	if i < 0 {
		t.Fatalf("no case %q", name)
	}
	ce, err := eventCases()[i].build()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ce)
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// richEvent is a created.v1 with every optional field.
func richEvent(t *testing.T) map[string]any {
	return caseEvent(t, "created with attribution and consent")
}

func stageEvent(t *testing.T) map[string]any {
	return caseEvent(t, "stage_changed forward into a customer stage")
}

func TestBrokenEventsFailNamingTheProblem(t *testing.T) {
	data := func(ev map[string]any) map[string]any { return ev["data"].(map[string]any) }
	cases := []struct {
		name        string
		event       func(*testing.T) map[string]any
		breakIt     func(ev map[string]any)
		wantPointer string
		wantMsg     string
	}{
		{"a missing envelope field", richEvent, func(ev map[string]any) { delete(ev, "sequence") }, "", "'sequence'"},
		{"a missing data field", richEvent, func(ev map[string]any) { delete(data(ev), "trigger") }, "/data", "missing property 'trigger'"},
		{"a missing nested field", richEvent, func(ev map[string]any) {
			delete(data(ev)["trigger"].(map[string]any), "occurred_at")
		}, "/data/trigger", "missing property 'occurred_at'"},
		{"a missing scores field", stageEvent, func(ev map[string]any) {
			delete(data(ev)["scores"].(map[string]any), "model")
		}, "/data/scores", "missing property 'model'"},
		{"an unknown envelope field", richEvent, func(ev map[string]any) { ev["traceparent"] = "00-x" }, "", "'traceparent' not allowed"},
		{"an unknown data field", richEvent, func(ev map[string]any) { data(ev)["email"] = "ana@example.com" }, "/data", "'email' not allowed"},
		{"an unknown touch field", richEvent, func(ev map[string]any) {
			data(ev)["first_touch"].(map[string]any)["utm_source"] = "google"
		}, "/data/first_touch", "'utm_source' not allowed"},
		{"a direct identifier among the traits", richEvent, func(ev map[string]any) {
			data(ev)["traits"].(map[string]any)["email"] = "ana@example.com"
		}, "/data/traits/email", "property name not allowed"},
		{"a query left on a page URL", richEvent, func(ev map[string]any) {
			data(ev)["first_touch"].(map[string]any)["page_url"] = "https://acme.example/?email=ana%40example.com"
		}, "/data/first_touch/page_url", "does not match pattern"},
		{"a version as a string", richEvent, func(ev map[string]any) { data(ev)["version"] = "1" }, "/data/version", "want integer"},
		{"a fractional version", richEvent, func(ev map[string]any) { data(ev)["version"] = 1.5 }, "/data/version", "want integer"},
		{"a trait that is not a string", richEvent, func(ev map[string]any) { data(ev)["traits"].(map[string]any)["company"] = 7 }, "/data/traits/company", "want string"},
		{"changed_traits as null", richEvent, func(ev map[string]any) { data(ev)["changed_traits"] = nil }, "/data/changed_traits", "want array"},
		{"a score as a string", stageEvent, func(ev map[string]any) { data(ev)["scores"].(map[string]any)["fit"] = "40" }, "/data/scores/fit", "want number"},
		{"an unknown direction", stageEvent, func(ev map[string]any) { data(ev)["direction"] = "sideways" }, "/data/direction", "value must be one of"},
		{"an unknown health zone", stageEvent, func(ev map[string]any) {
			data(ev)["scores"].(map[string]any)["health_zone"] = "blue"
		}, "/data/scores/health_zone", "value must be one of"},
		{"an unknown consent status", richEvent, func(ev map[string]any) {
			data(ev)["consent"].(map[string]any)["email_marketing"] = "maybe"
		}, "/data/consent/email_marketing", "value must be one of"},
		{"a customer id that is not a UUID", richEvent, func(ev map[string]any) { data(ev)["customer_id"] = "ana" }, "/data/customer_id", "not valid uuid"},
		{"a time that is not RFC 3339", richEvent, func(ev map[string]any) { ev["time"] = "14/03/2026" }, "/time", "not valid date-time"},
		{"a sequence of 0", richEvent, func(ev map[string]any) { ev["sequence"] = "0" }, "/sequence", "does not match pattern"},
		{"a sequence with a leading zero", richEvent, func(ev map[string]any) { ev["sequence"] = "01" }, "/sequence", "does not match pattern"},
		{"a sequence as a number", richEvent, func(ev map[string]any) { ev["sequence"] = 1 }, "/sequence", "want string"},
		{"a sequence other than the version", richEvent, func(ev map[string]any) { ev["sequence"] = "2" }, "/data/version", `not the sequence "2"`},
		{"an unknown type", richEvent, func(ev map[string]any) { ev["type"] = "cyclehub.customer.deleted.v1" }, "/type", "value must be one of"},
		{"another spec version", richEvent, func(ev map[string]any) { ev["specversion"] = "0.3" }, "/specversion", "'1.0'"},
		{"a subject of another customer", richEvent, func(ev map[string]any) { ev["subject"] = "customer/" + otherID }, "/subject", "partition key"},
		{"data of another customer", richEvent, func(ev map[string]any) { data(ev)["customer_id"] = otherID }, "/data/customer_id", "partition key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event(t)
			tc.breakIt(ev)
			raw, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			err = eventschema.Validate(raw)
			var se *eventschema.Error
			if !errors.As(err, &se) {
				t.Fatalf("Validate = %v, want an *eventschema.Error", err)
			}
			if !slices.ContainsFunc(se.Problems, func(p eventschema.Problem) bool {
				return p.Pointer == tc.wantPointer && strings.Contains(p.Message, tc.wantMsg)
			}) {
				t.Fatalf("Validate = %v\nwant a problem at %q saying %q", err, tc.wantPointer, tc.wantMsg)
			}
			if se.Type != "" && !strings.HasPrefix(err.Error(), se.Type+" event") {
				t.Fatalf("the error does not name the type: %v", err)
			}
		})
	}
}

func TestNotJSONIsAnError(t *testing.T) {
	for _, in := range []string{``, `{"specversion":`, `{} {}`, `[]`} {
		var se *eventschema.Error
		if err := eventschema.Validate([]byte(in)); !errors.As(err, &se) {
			t.Errorf("Validate(%q) = %v, want an *eventschema.Error", in, err)
		}
	}
}

// TestTheDocumentedExamplesMatch checks the complete example events of
// docs/lifecycle.md (the README's is abridged).
func TestTheDocumentedExamplesMatch(t *testing.T) {
	b, err := os.ReadFile("../../docs/lifecycle.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(b), "```json\n")[1:] {
		example, _, _ := strings.Cut(block, "```")
		if !strings.Contains(example, `"specversion"`) {
			continue
		}
		n++
		if err := eventschema.Validate([]byte(example)); err != nil {
			t.Errorf("%v\n%s", err, example)
		}
	}
	if n != 2 {
		t.Fatalf("%d example events in docs/lifecycle.md, want 2 (stage_changed, score_changed)", n)
	}
}
