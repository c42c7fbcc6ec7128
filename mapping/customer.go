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
	// Consent is the current state per purpose (absent: unknown).
	Consent map[string]ConsentState `json:"consent,omitempty"`
	// MergedInto is the survivor's id once this record was merged.
	MergedInto string `json:"merged_into,omitempty"`
	// UserIDs are the tenant user ids the customer holds (loaded with it,
	// not stored in the row): a merge may never give one person two.
	UserIDs []string `json:"-"`
	// Lifecycle is the stage, status and scores.
	Lifecycle Lifecycle `json:"lifecycle"`
}

// EnrichmentSource is the provenance source of traits an enrichment API
// gave.
const EnrichmentSource = "enrichment"

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
	// ChangedConsent lists the purposes whose status changed.
	ChangedConsent []string
}

// Changed reports whether the record changed (and so gets a new version).
func (c Change) Changed() bool {
	return c.Created || len(c.ChangedTraits) > 0 || c.Attribution || len(c.ChangedConsent) > 0
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
// Traits: by each trait's rule (by default the latest non-empty value by
// event time: an older event never overwrites a newer value). Attribution:
// first touch is the earliest event that carried one, last touch the
// latest. Consent: the most recent explicit choice per purpose. The caller
// bumps Version when the change is to be published.
func (c *Customer) Apply(ev *Event, requestID string, s Survivorship) Change {
	var ch Change
	if c.Traits == nil {
		c.Traits = map[string]TraitValue{}
	}
	for _, name := range sortedKeys(ev.Traits) {
		v := ev.Traits[name]
		if v == "" {
			continue
		}
		next := TraitValue{Value: v, Source: ev.Source, RequestID: requestID, ObservedAt: ev.OccurredAt}
		if cur, ok := c.Traits[name]; ok && !s.wins(name, next, cur) {
			continue
		}
		c.Traits[name] = next
		ch.ChangedTraits = append(ch.ChangedTraits, name)
	}
	for _, name := range sortedKeys(ev.Enrichment) {
		if _, given := ev.Traits[name]; given || ev.Enrichment[name] == "" {
			continue
		}
		next := TraitValue{Value: ev.Enrichment[name], Source: EnrichmentSource, RequestID: requestID, ObservedAt: ev.OccurredAt}
		if cur, ok := c.Traits[name]; ok && !s.wins(name, next, cur) {
			continue
		}
		c.Traits[name] = next
		ch.ChangedTraits = append(ch.ChangedTraits, name)
	}
	ch.Attribution = c.touch(ev.Attribution)
	for _, choice := range ev.Consent {
		if c.applyConsent(choice, ev.Source, ev.OccurredAt) && !slices.Contains(ch.ChangedConsent, choice.Purpose) {
			ch.ChangedConsent = append(ch.ChangedConsent, choice.Purpose)
		}
	}
	c.span(ev.OccurredAt, ev.OccurredAt)
	return ch
}

// touch folds a marketing touch into first and last touch.
func (c *Customer) touch(t *Touch) bool {
	if t.Empty() {
		return false
	}
	changed := false
	if c.FirstTouch == nil || t.At.Before(c.FirstTouch.At) {
		c.FirstTouch = t
		changed = true
	}
	if c.LastTouch == nil || !t.At.Before(c.LastTouch.At) {
		if c.LastTouch == nil || !sameTouch(c.LastTouch, t) {
			changed = true
		}
		c.LastTouch = t
	}
	return changed
}

// span widens the record's time span to cover [from, to].
func (c *Customer) span(from, to time.Time) {
	if to.After(c.UpdatedAt) {
		c.UpdatedAt = to
	}
	if from.Before(c.CreatedAt) {
		c.CreatedAt = from
	}
}

// Absorb merges m into c (c survives): every trait resolves by
// survivorship, the earliest first touch and latest last touch win, the
// most recent consent choice per purpose wins, and the record spans both
// lifetimes. m is left a tombstone pointing at c, with no traits. It
// returns the traits of c that changed.
func (c *Customer) Absorb(m *Customer, s Survivorship) []string {
	var changed []string
	if c.Traits == nil {
		c.Traits = map[string]TraitValue{}
	}
	for _, name := range sortedKeys(m.Traits) {
		v := m.Traits[name]
		if cur, ok := c.Traits[name]; ok && !s.wins(name, v, cur) {
			continue
		}
		c.Traits[name] = v
		changed = append(changed, name)
	}
	c.touch(m.FirstTouch)
	c.touch(m.LastTouch)
	for _, p := range sortedKeys(m.Consent) {
		st := m.Consent[p]
		c.applyConsent(ConsentChoice{Purpose: p, Status: st.Status, Method: st.Method}, st.Source, st.At)
	}
	c.span(m.CreatedAt, m.UpdatedAt)
	for _, u := range m.UserIDs {
		if !slices.Contains(c.UserIDs, u) {
			c.UserIDs = append(c.UserIDs, u)
		}
	}
	m.MergedInto = c.ID
	m.Traits, m.FirstTouch, m.LastTouch, m.Consent, m.UserIDs = map[string]TraitValue{}, nil, nil, map[string]ConsentState{}, nil
	m.Lifecycle = Lifecycle{}
	return changed
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
