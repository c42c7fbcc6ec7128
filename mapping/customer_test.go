package mapping

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var baseTime = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func hour(hours int) time.Time { return baseTime.Add(time.Duration(hours) * time.Hour) }

func traitEvent(when time.Time, source string, traits map[string]string) *Event {
	return &Event{Source: source, Type: "form_submitted", OccurredAt: when, Traits: traits}
}

func touchEvent(when time.Time, campaign string) *Event {
	return &Event{Source: "site", Type: "form_submitted", OccurredAt: when,
		Attribution: &Touch{Source: "google", Campaign: campaign, CycleSource: "site", At: when}}
}

func TestCustomerApplyTraits(t *testing.T) {
	type step struct {
		ev        *Event
		requestID string
		changed   []string // ChangedTraits wanted from this step
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string]TraitValue
	}{
		{
			name: "a new trait is stored with its provenance",
			steps: []step{
				{traitEvent(hour(0), "site", map[string]string{"company": "ACME"}), "r1", []string{"company"}},
			},
			want: map[string]TraitValue{"company": {"ACME", "site", "r1", hour(0)}},
		},
		{
			name: "a later non-empty value replaces the stored one",
			steps: []step{
				{traitEvent(hour(0), "site", map[string]string{"company": "ACME"}), "r1", []string{"company"}},
				{traitEvent(hour(1), "crm", map[string]string{"company": "ACME Ltda"}), "r2", []string{"company"}},
			},
			want: map[string]TraitValue{"company": {"ACME Ltda", "crm", "r2", hour(1)}},
		},
		{
			name: "an older event never overwrites a newer value, even when it arrives later",
			steps: []step{
				{traitEvent(hour(2), "site", map[string]string{"company": "New Co"}), "r1", []string{"company"}},
				{traitEvent(hour(1), "crm", map[string]string{"company": "Old Co"}), "r2", nil},
			},
			want: map[string]TraitValue{"company": {"New Co", "site", "r1", hour(2)}},
		},
		{
			name: "an older event still fills a trait the record does not have",
			steps: []step{
				{traitEvent(hour(2), "site", map[string]string{"company": "New Co"}), "r1", []string{"company"}},
				{traitEvent(hour(1), "crm", map[string]string{"company": "Old Co", "job_title": "CTO"}), "r2", []string{"job_title"}},
			},
			want: map[string]TraitValue{
				"company":   {"New Co", "site", "r1", hour(2)},
				"job_title": {"CTO", "crm", "r2", hour(1)},
			},
		},
		{
			name: "the same value again is no change and keeps the first provenance",
			steps: []step{
				{traitEvent(hour(0), "site", map[string]string{"company": "ACME"}), "r1", []string{"company"}},
				{traitEvent(hour(5), "crm", map[string]string{"company": "ACME"}), "r2", nil},
			},
			want: map[string]TraitValue{"company": {"ACME", "site", "r1", hour(0)}},
		},
		{
			name: "an empty value never erases a stored one",
			steps: []step{
				{traitEvent(hour(0), "site", map[string]string{"company": "ACME"}), "r1", []string{"company"}},
				{traitEvent(hour(1), "site", map[string]string{"company": ""}), "r2", nil},
			},
			want: map[string]TraitValue{"company": {"ACME", "site", "r1", hour(0)}},
		},
		{
			name: "changed traits are listed in name order",
			steps: []step{
				{traitEvent(hour(0), "site", map[string]string{"phone": "+48601234567", "company": "ACME", "email": "a@example.com"}), "r1",
					[]string{"company", "email", "phone"}},
			},
			want: map[string]TraitValue{
				"company": {"ACME", "site", "r1", hour(0)},
				"email":   {"a@example.com", "site", "r1", hour(0)},
				"phone":   {"+48601234567", "site", "r1", hour(0)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCustomer("c1", tt.steps[0].ev)
			for i, s := range tt.steps {
				ch := c.Apply(s.ev, s.requestID, DefaultSurvivorship())
				if !reflect.DeepEqual(ch.ChangedTraits, s.changed) {
					t.Errorf("step %d: changed traits %v, want %v", i, ch.ChangedTraits, s.changed)
				}
				if ch.Changed() != (len(s.changed) > 0) {
					t.Errorf("step %d: Changed() = %v with changed traits %v", i, ch.Changed(), s.changed)
				}
			}
			if !reflect.DeepEqual(c.Traits, tt.want) {
				t.Errorf("traits = %+v\nwant %+v", c.Traits, tt.want)
			}
		})
	}
}

func TestCustomerApplyTouchesWhateverTheArrivalOrder(t *testing.T) {
	early, middle, late := touchEvent(hour(0), "early"), touchEvent(hour(1), "middle"), touchEvent(hour(2), "late")
	orders := []struct {
		name string
		evs  []*Event
	}{
		{"in time order", []*Event{early, middle, late}},
		{"in reverse time order", []*Event{late, middle, early}},
		{"latest first, then earliest", []*Event{late, early, middle}},
		{"middle first", []*Event{middle, early, late}},
		{"middle first, then latest", []*Event{middle, late, early}},
		{"earliest first, then latest", []*Event{early, late, middle}},
	}
	for _, o := range orders {
		t.Run("first touch is the earliest and last touch the latest, "+o.name, func(t *testing.T) {
			c := NewCustomer("c1", o.evs[0])
			for _, ev := range o.evs {
				c.Apply(ev, "r", DefaultSurvivorship())
			}
			if c.FirstTouch == nil || c.FirstTouch.Campaign != "early" {
				t.Errorf("first touch %+v, want the early one", c.FirstTouch)
			}
			if c.LastTouch == nil || c.LastTouch.Campaign != "late" {
				t.Errorf("last touch %+v, want the late one", c.LastTouch)
			}
			if !c.CreatedAt.Equal(hour(0)) || !c.UpdatedAt.Equal(hour(2)) {
				t.Errorf("created %v, updated %v; want the earliest and latest event times", c.CreatedAt, c.UpdatedAt)
			}
		})
	}
}

func TestCustomerApplyAttributionChange(t *testing.T) {
	tests := []struct {
		name  string
		prior []*Event
		ev    *Event
		want  bool
	}{
		{"the first touch ever is a change", nil, touchEvent(hour(0), "a"), true},
		{"a later touch is a change (new last touch)", []*Event{touchEvent(hour(0), "a")}, touchEvent(hour(1), "b"), true},
		{"an earlier touch is a change (new first touch)", []*Event{touchEvent(hour(1), "a")}, touchEvent(hour(0), "b"), true},
		{"a touch between first and last changes nothing", []*Event{touchEvent(hour(0), "a"), touchEvent(hour(2), "c")}, touchEvent(hour(1), "b"), false},
		{"the same touch replayed changes nothing", []*Event{touchEvent(hour(0), "a")}, touchEvent(hour(0), "a"), false},
		{"a different touch at the same time as the last one is a change", []*Event{touchEvent(hour(0), "a")}, touchEvent(hour(0), "b"), true},
		{"an event without attribution changes no touch", []*Event{touchEvent(hour(0), "a")}, traitEvent(hour(3), "site", nil), false},
		{
			"the same touch read back in another time zone changes nothing",
			[]*Event{touchEvent(hour(0), "a")},
			touchEvent(hour(0).In(time.FixedZone("BRT", -3*3600)), "a"),
			false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCustomer("c1", tt.ev)
			for _, ev := range tt.prior {
				c.Apply(ev, "r", DefaultSurvivorship())
			}
			first, last := c.FirstTouch, c.LastTouch
			ch := c.Apply(tt.ev, "r", DefaultSurvivorship())
			if ch.Attribution != tt.want || ch.Changed() != tt.want {
				t.Errorf("Attribution = %v, Changed() = %v; want %v (first %+v → %+v, last %+v → %+v)",
					ch.Attribution, ch.Changed(), tt.want, first, c.FirstTouch, last, c.LastTouch)
			}
		})
	}
}

func TestCustomerReplayIsNoChange(t *testing.T) {
	ev := touchEvent(hour(0), "spring")
	ev.Traits = map[string]string{"email": "a@example.com", "company": "ACME"}
	c := NewCustomer("c1", ev)
	if ch := c.Apply(ev, "r1", DefaultSurvivorship()); !ch.Changed() {
		t.Fatal("first apply changed nothing")
	}
	// Read back as the store does (JSON), then replay the same request.
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var stored Customer
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	if ch := stored.Apply(ev, "r1", DefaultSurvivorship()); ch.Changed() {
		t.Errorf("replaying the same event changed the record: %+v", ch)
	}
}

func TestChangeChanged(t *testing.T) {
	tests := []struct {
		name string
		ch   Change
		want bool
	}{
		{"nothing is no change", Change{}, false},
		{"an empty changed-traits list is no change", Change{ChangedTraits: []string{}}, false},
		{"a created record is a change", Change{Created: true}, true},
		{"a changed trait is a change", Change{ChangedTraits: []string{"company"}}, true},
		{"an attribution change is a change", Change{Attribution: true}, true},
	}
	for _, tt := range tests {
		if got := tt.ch.Changed(); got != tt.want {
			t.Errorf("%s: Changed() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCustomerTraitMapAndPII(t *testing.T) {
	c := &Customer{Traits: map[string]TraitValue{"company": {Value: "ACME"}, "email": {Value: "a@example.com"}}}
	if got, want := c.TraitMap(), map[string]string{"company": "ACME", "email": "a@example.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TraitMap() = %v, want %v", got, want)
	}
	for name, want := range map[string]bool{
		"email": true, "phone": true, "first_name": true, "last_name": true, "full_name": true,
		"address": true, "postal_code": true, "birthdate": true,
		"company": false, "job_title": false, "country": false, "phone_country": false,
	} {
		if got := IsPIITrait(name); got != want {
			t.Errorf("IsPIITrait(%q) = %v, want %v", name, got, want)
		}
	}
}

// customerWithPII is a customer as the pipeline holds it after a form
// submission, at version 3.
func customerWithPII() *Customer {
	tv := func(v string) TraitValue {
		return TraitValue{Value: v, Source: "site", RequestID: "r1", ObservedAt: hour(0)}
	}
	return &Customer{
		ID:      "0195a3c4-7d2e-7a10-8f00-0123456789ab",
		Version: 3,
		Traits: map[string]TraitValue{
			"email":         tv("ana.lima@example.com"),
			"phone":         tv("+5511987654321"),
			"first_name":    tv("Ana"),
			"last_name":     tv("Lima-Unique"),
			"full_name":     tv("Ana Lima-Unique"),
			"company":       tv("Lima Consultoria Ltda"),
			"phone_country": tv("BR"),
		},
		FirstTouch: &Touch{Source: "google", Campaign: "spring", At: hour(0)},
		LastTouch:  &Touch{Source: "bing", Campaign: "summer", At: hour(1)},
	}
}

func TestChangedEvent(t *testing.T) {
	trig := Trigger{Source: "site", EventType: "form_submitted", RequestID: "r9",
		OccurredAt: hour(1).In(time.FixedZone("BRT", -3*3600))}

	t.Run("a created record is announced as created, a changed one as updated", func(t *testing.T) {
		for _, tt := range []struct {
			created bool
			want    string
		}{{true, TypeCustomerCreated}, {false, TypeCustomerUpdated}} {
			ce, err := ChangedEvent(customerWithPII(), Change{Created: tt.created, ChangedTraits: []string{"company"}}, trig)
			if err != nil {
				t.Fatal(err)
			}
			if ce.Type != tt.want {
				t.Errorf("created=%v: type %q, want %q", tt.created, ce.Type, tt.want)
			}
		}
	})

	t.Run("the envelope follows the lifecycle stream contract", func(t *testing.T) {
		c := customerWithPII()
		ce, err := ChangedEvent(c, Change{ChangedTraits: []string{"company"}}, trig)
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct{ name, got, want string }{
			{"specversion is 1.0", ce.SpecVersion, "1.0"},
			{"id is the deterministic event id of this version", ce.ID, EventID(c.ID, 3)},
			{"source is the pipeline", ce.Source, CloudEventSource},
			{"subject names the customer", ce.Subject, "customer/" + c.ID},
			{"sequence is the version as a base-10 string", ce.Sequence, "3"},
			{"partitionkey is the customer id", ce.PartitionKey, c.ID},
			{"data is JSON", ce.DataContentType, "application/json"},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
			}
		}
		if !ce.Time.Equal(trig.OccurredAt) || ce.Time.Location() != time.UTC {
			t.Errorf("time %v, want the trigger's time %v in UTC", ce.Time, trig.OccurredAt)
		}
	})

	t.Run("PII traits never appear in the event, only the others", func(t *testing.T) {
		c := customerWithPII()
		ce, err := ChangedEvent(c, Change{ChangedTraits: []string{"email", "company"}}, trig)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := json.Marshal(ce)
		if err != nil {
			t.Fatal(err)
		}
		for name, tv := range c.Traits {
			if IsPIITrait(name) && strings.Contains(string(whole), tv.Value) {
				t.Errorf("the %s trait %q leaks into the event: %s", name, tv.Value, whole)
			}
		}
		var data CustomerChangedData
		if err := json.Unmarshal(ce.Data, &data); err != nil {
			t.Fatal(err)
		}
		wantTraits := map[string]string{"company": "Lima Consultoria Ltda", "phone_country": "BR"}
		if !reflect.DeepEqual(data.Traits, wantTraits) {
			t.Errorf("data.traits = %v, want %v", data.Traits, wantTraits)
		}
		// The names of changed traits are not PII: consumers learn that the
		// email changed and read it from the admin API.
		if !reflect.DeepEqual(data.ChangedTraits, []string{"email", "company"}) {
			t.Errorf("data.changed_traits = %v", data.ChangedTraits)
		}
		if data.CustomerID != c.ID || data.Version != 3 || data.Trigger.RequestID != "r9" {
			t.Errorf("data = %+v, want the customer id, version 3 and the trigger", data)
		}
		if data.FirstTouch == nil || data.FirstTouch.Campaign != "spring" || data.LastTouch == nil || data.LastTouch.Campaign != "summer" {
			t.Errorf("touches %+v / %+v, want the customer's first and last touch", data.FirstTouch, data.LastTouch)
		}
	})

	t.Run("no changed traits is an empty list, never null", func(t *testing.T) {
		ce, err := ChangedEvent(customerWithPII(), Change{Attribution: true}, trig)
		if err != nil {
			t.Fatal(err)
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal(ce.Data, &data); err != nil {
			t.Fatal(err)
		}
		if string(data["changed_traits"]) != "[]" {
			t.Errorf("changed_traits = %s, want []", data["changed_traits"])
		}
	})

	t.Run("the same version built twice is byte for byte the same event", func(t *testing.T) {
		a, err1 := ChangedEvent(customerWithPII(), Change{ChangedTraits: []string{"company"}}, trig)
		b, err2 := ChangedEvent(customerWithPII(), Change{ChangedTraits: []string{"company"}}, trig)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("two builds differ:\n%s\n%s", ja, jb)
		}
	})
}

func TestEventID(t *testing.T) {
	const id = "0195a3c4-7d2e-7a10-8f00-0123456789ab"
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"the same customer and version give the same id", EventID(id, 7), EventID(id, 7), true},
		{"the next version gets another id", EventID(id, 7), EventID(id, 8), false},
		{"another customer at the same version gets another id", EventID(id, 7), EventID("0195a3c4-7d2e-7a10-8f00-0123456789ac", 7), false},
		{"ids cannot collide by shifting digits between id and version", EventID("c1", 23), EventID("c12", 3), false},
	}
	for _, tt := range tests {
		if (tt.a == tt.b) != tt.same {
			t.Errorf("%s: %s vs %s", tt.name, tt.a, tt.b)
		}
	}
	u, err := uuid.Parse(EventID(id, 1))
	if err != nil || u.Version() != 5 {
		t.Errorf("EventID is %v (version %v, err %v), want a name-based (v5) UUID", u, u.Version(), err)
	}
	// Pinned: changing the namespace or the name format would re-identify
	// every event already published, and consumers dedupe by id.
	const pinned = "1989fc6f-c96e-553f-a57c-14bf5e563167" // uuid5(namespace, "<id>/1")
	if got := EventID(id, 1); got != pinned {
		t.Errorf("EventID(%q, 1) = %s, want the pinned %s", id, got, pinned)
	}
}

func TestNewCloudEventDataThatCannotBeEncoded(t *testing.T) {
	_, err := NewCloudEvent(TypeCustomerUpdated, customerWithPII(), hour(0), map[string]any{"bad": make(chan int)})
	var ute *json.UnsupportedTypeError
	if err == nil || !errors.As(err, &ute) || !strings.Contains(err.Error(), TypeCustomerUpdated) {
		t.Errorf("err = %v, want a wrapped json error naming the event type", err)
	}
}

func TestConsentChangesAreNamedOnTheStreamWithoutPersonalData(t *testing.T) {
	c := NewCustomer("c1", &Event{OccurredAt: time.Unix(0, 0)})
	ev := &Event{Source: "form", OccurredAt: time.Unix(10, 0), Traits: map[string]string{"email": "a@example.com"},
		Consent: []ConsentChoice{{Purpose: "email_marketing", Status: ConsentDenied, Method: "form_checkbox"}}}
	ch := c.Apply(ev, "r1", DefaultSurvivorship())
	c.Version++
	ce, err := ChangedEvent(c, ch, Trigger{Source: "form", OccurredAt: ev.OccurredAt})
	if err != nil {
		t.Fatal(err)
	}
	data := string(ce.Data)
	for _, want := range []string{`"changed_consent":["email_marketing"]`, `"consent":{"email_marketing":"denied"}`} {
		if !strings.Contains(data, want) {
			t.Errorf("missing %s in %s", want, data)
		}
	}
	if strings.Contains(data, "a@example.com") {
		t.Errorf("the email is in the stream: %s", data)
	}
}
