package mapping

import (
	"encoding/json"
	"testing"
)

func stageEvent(to string) *CloudEvent {
	data, _ := json.Marshal(map[string]string{"from_stage": "lead", "to_stage": to})
	return &CloudEvent{ID: "e-" + to, Type: TypeStageChanged, PartitionKey: "c1", Data: data}
}

func TestASubscriptionChoosesTypesAndStages(t *testing.T) {
	created := &CloudEvent{ID: "e1", Type: TypeCustomerCreated, PartitionKey: "c1"}
	for _, tc := range []struct {
		name string
		sub  Subscription
		ev   *CloudEvent
		want bool
	}{
		{"no types: everything", Subscription{}, created, true},
		{"a short type", Subscription{Types: []string{"created"}}, created, true},
		{"a full type", Subscription{Types: []string{TypeCustomerCreated}}, created, true},
		{"another type", Subscription{Types: []string{"erased"}}, created, false},
		{"a stage subscribed", Subscription{Types: []string{"stage_changed"}, Stages: []string{"customer"}}, stageEvent("customer"), true},
		{"a stage not subscribed", Subscription{Types: []string{"stage_changed"}, Stages: []string{"customer"}}, stageEvent("opportunity"), false},
		{"stages do not narrow other types", Subscription{Stages: []string{"customer"}}, created, true},
		{"unreadable stage data", Subscription{Stages: []string{"customer"}}, &CloudEvent{Type: TypeStageChanged, Data: []byte("{")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.sub.Matches(tc.ev); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestASubscriptionReportsEveryProblem(t *testing.T) {
	errs := Subscription{Types: []string{"deleted", "created"}, Stages: []string{"Not A Stage"}}.Validate()
	if len(errs) != 3 {
		t.Fatalf("%d errors, want 3 (unknown type, bad stage, stages without stage_changed): %v", len(errs), errs)
	}
}

// Fan-out gives each subscribed destination one row per event; contacts
// go only to destinations that need them, and on an erasure only to those
// that erase by contact.
func TestFanOutCarriesContactsOnlyWhereNeeded(t *testing.T) {
	contact := &Contact{CustomerID: "c1", Email: "p@example.com"}
	erased := &CloudEvent{ID: "e2", Type: TypeCustomerErased, PartitionKey: "c1"}
	created := &CloudEvent{ID: "e1", Type: TypeCustomerCreated, PartitionKey: "c1"}
	routes := []Route{
		{Destination: "hook"},
		{Destination: "slack", NeedsContact: true, Subscription: Subscription{Types: []string{"created", "erased"}}},
		{Destination: "crm", NeedsContact: true, ErasesByContact: true},
		{Destination: "stages-only", Subscription: Subscription{Types: []string{"stage_changed"}}},
	}
	rows := FanOut(routes, []*CloudEvent{created, erased}, func(string) *Contact { return contact })
	got := map[string]bool{}
	for _, r := range rows {
		got[r.Destination+" "+ShortType(r.Event.Type)] = r.Contact != nil
	}
	want := map[string]bool{
		"hook created": false, "hook erased": false,
		"slack created": true, "slack erased": false,
		"crm created": true, "crm erased": true,
	}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for k, v := range want {
		if hasContact, ok := got[k]; !ok || hasContact != v {
			t.Errorf("%s: present %v, contact %v; want contact %v", k, ok, hasContact, v)
		}
	}
}
