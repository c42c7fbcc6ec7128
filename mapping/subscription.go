package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Subscription chooses the events a destination receives.
type Subscription struct {
	// Types are event types, full (cyclehub.customer.stage_changed.v1) or
	// short (stage_changed); empty: every type.
	Types []string `yaml:"types"`
	// Stages narrow stage_changed events to moves into these stages;
	// empty: every stage.
	Stages []string `yaml:"stages"`
}

// eventTypes are the short names of the stream's types.
var eventTypes = map[string]string{
	"created": TypeCustomerCreated, "updated": TypeCustomerUpdated, "merged": TypeCustomerMerged,
	"erased": TypeCustomerErased, "stage_changed": TypeStageChanged, "score_changed": TypeScoreChanged,
}

// Validate reports every problem with s, each prefixed by its key.
func (s Subscription) Validate() []error {
	var errs []error
	for i, t := range s.Types {
		if fullType(t) == "" {
			errs = append(errs, fmt.Errorf("types[%d]: unknown event type %q (one of created, updated, stage_changed, score_changed, merged, erased)", i, t))
		}
	}
	for i, st := range s.Stages {
		if !isSimpleName(st) {
			errs = append(errs, fmt.Errorf("stages[%d]: %q is not a stage name", i, st))
		}
	}
	if len(s.Stages) > 0 && len(s.Types) > 0 && !slices.ContainsFunc(s.Types, func(t string) bool { return fullType(t) == TypeStageChanged }) {
		errs = append(errs, fmt.Errorf("stages: only narrow stage_changed, which types leaves out"))
	}
	return errs
}

func fullType(t string) string {
	if full, ok := eventTypes[t]; ok {
		return full
	}
	for _, full := range eventTypes {
		if t == full {
			return full
		}
	}
	return ""
}

// Matches reports whether the event goes to the destination.
func (s Subscription) Matches(ce *CloudEvent) bool {
	if len(s.Types) > 0 && !slices.ContainsFunc(s.Types, func(t string) bool { return fullType(t) == ce.Type }) {
		return false
	}
	if len(s.Stages) == 0 || ce.Type != TypeStageChanged {
		return true
	}
	var d struct {
		ToStage string `json:"to_stage"`
	}
	if json.Unmarshal(ce.Data, &d) != nil {
		return false
	}
	return slices.Contains(s.Stages, d.ToStage)
}

// Route is a destination as fan-out sees it.
type Route struct {
	Destination  string
	Subscription Subscription
	// NeedsContact: the deliveries carry the person's contact;
	// ErasesByContact: erasures too (otherwise they never do).
	NeedsContact, ErasesByContact bool
}

// DeliveryRow is a delivery to create with the event it carries.
type DeliveryRow struct {
	Destination string
	Event       *CloudEvent
	Contact     *Contact
}

// FanOut lists the deliveries of events to the routes that subscribe to
// them; contact returns a customer's contact (nil when unknown).
func FanOut(routes []Route, events []*CloudEvent, contact func(customerID string) *Contact) []DeliveryRow {
	var out []DeliveryRow
	for _, ce := range events {
		for _, r := range routes {
			if !r.Subscription.Matches(ce) {
				continue
			}
			row := DeliveryRow{Destination: r.Destination, Event: ce}
			if r.NeedsContact && (ce.Type != TypeCustomerErased || r.ErasesByContact) {
				row.Contact = contact(ce.PartitionKey)
			}
			out = append(out, row)
		}
	}
	return out
}

// ShortType is an event type's short name (stage_changed).
func ShortType(t string) string {
	return strings.TrimSuffix(strings.TrimPrefix(t, "cyclehub.customer."), ".v1")
}
