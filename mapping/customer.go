package mapping

import (
	"slices"
	"time"
)

// Customer is the unified record of one person, as the pipeline reads and
// writes it. Version increments by one for every change that is published,
// so it is the gapless `sequence` of the customer's events.
type Customer struct {
	ID         string                `json:"id"`
	Version    int64                 `json:"version"`
	CreatedAt  time.Time             `json:"created_at"`
	UpdatedAt  time.Time             `json:"updated_at"`
	Traits     map[string]TraitValue `json:"traits"`
	FirstTouch *Touch                `json:"first_touch,omitempty"`
	LastTouch  *Touch                `json:"last_touch,omitempty"`
}

// TraitValue is a trait with its provenance: who said it, in which request,
// and when it was true.
type TraitValue struct {
	Value      string    `json:"value"`
	Source     string    `json:"source"`
	RequestID  string    `json:"request_id,omitempty"`
	ObservedAt time.Time `json:"observed_at"`
}

// Change says what applying an event did to a customer.
type Change struct {
	Created       bool
	ChangedTraits []string
	Attribution   bool
}

// Changed reports whether the record changed (and so gets a new version).
func (c Change) Changed() bool {
	return c.Created || len(c.ChangedTraits) > 0 || c.Attribution
}

// NewCustomer starts a record for a person first seen in ev.
func NewCustomer(id string, ev *Event) *Customer {
	return &Customer{
		ID:        id,
		CreatedAt: ev.OccurredAt,
		UpdatedAt: ev.OccurredAt,
		Traits:    map[string]TraitValue{},
	}
}

// Apply folds ev into c by the survivorship rules and reports the change.
// Traits: the latest non-empty value by event time wins (an older event
// never overwrites a newer value). Attribution: first touch is the earliest
// event that carried one, last touch the latest. The caller bumps Version
// when the change is to be published.
func (c *Customer) Apply(ev *Event, requestID string) Change {
	var ch Change
	if c.Traits == nil {
		c.Traits = map[string]TraitValue{}
	}
	for _, name := range sortedKeys(ev.Traits) {
		v := ev.Traits[name]
		if v == "" {
			continue
		}
		cur, ok := c.Traits[name]
		if ok && (cur.Value == v || ev.OccurredAt.Before(cur.ObservedAt)) {
			continue
		}
		c.Traits[name] = TraitValue{Value: v, Source: ev.Source, RequestID: requestID, ObservedAt: ev.OccurredAt}
		ch.ChangedTraits = append(ch.ChangedTraits, name)
	}
	if t := ev.Attribution; !t.Empty() {
		if c.FirstTouch == nil || t.At.Before(c.FirstTouch.At) {
			c.FirstTouch = t
			ch.Attribution = true
		}
		if c.LastTouch == nil || !t.At.Before(c.LastTouch.At) {
			if c.LastTouch == nil || !sameTouch(c.LastTouch, t) {
				ch.Attribution = true
			}
			c.LastTouch = t
		}
	}
	if ev.OccurredAt.After(c.UpdatedAt) {
		c.UpdatedAt = ev.OccurredAt
	}
	if ev.OccurredAt.Before(c.CreatedAt) {
		c.CreatedAt = ev.OccurredAt
	}
	return ch
}

// sameTouch compares two touches with their times by instant: == on
// time.Time also compares locations, so a touch read back from storage in
// another zone would look changed.
func sameTouch(a, b *Touch) bool {
	x, y := *a, *b
	x.At, y.At = time.Time{}, time.Time{}
	return x == y && a.At.Equal(b.At)
}

// TraitMap returns the plain trait values.
func (c *Customer) TraitMap() map[string]string {
	m := make(map[string]string, len(c.Traits))
	for k, v := range c.Traits {
		m[k] = v.Value
	}
	return m
}

// piiTraits never leave CycleHub in stream payloads (DOMAIN.md: keep PII out
// of the envelope and minimal in data).
var piiTraits = []string{"email", "phone", "first_name", "last_name", "full_name", "address", "street_address", "postal_code", "birthdate"}

// IsPIITrait reports whether a trait identifies a person directly.
func IsPIITrait(name string) bool { return slices.Contains(piiTraits, name) }
