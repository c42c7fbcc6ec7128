package mapping

import "time"

// IdentityType names a kind of identifier, listed by matching priority.
type IdentityType string

// Identifier kinds, highest matching priority first (DOMAIN.md, Identity).
const (
	IdentityUserID    IdentityType = "user_id"
	IdentityEmail     IdentityType = "email"
	IdentityPhone     IdentityType = "phone"
	IdentityExternal  IdentityType = "external_id"
	IdentityAnonymous IdentityType = "anonymous_id"
)

// Identity is one normalized identifier of a person.
type Identity struct {
	Type  IdentityType `json:"type"`
	Value string       `json:"value"`
}

// Key is the identity as one string, "type:value", used for locks and lookups.
func (i Identity) Key() string { return string(i.Type) + ":" + i.Value }

// Event is the canonical event every provider's payload is mapped into.
type Event struct {
	// Source and Provider say where it came from.
	Source   string `json:"source"`
	Provider string `json:"provider"`
	// Type is what happened, in CycleHub's vocabulary: form_submitted,
	// ticket_created, survey_answered, lead_captured, signed_up, deal_won, …
	Type string `json:"type"`
	// OccurredAt is when it happened at the provider (falls back to receipt).
	OccurredAt time.Time `json:"occurred_at"`
	// Identities are the person's identifiers, normalized, junk removed.
	Identities []Identity `json:"identities"`
	// Traits are profile attributes (first_name, company, …), all non-empty.
	Traits map[string]string `json:"traits,omitempty"`
	// Attribution is the marketing touch that brought this event, if any.
	Attribution *Touch `json:"attribution,omitempty"`
	// Properties describe the interaction itself (message, form id, …).
	Properties map[string]any `json:"properties,omitempty"`
	// Enrichment holds traits an enrichment API gave for the event (by its
	// company domain); they are recorded with source "enrichment", and
	// never replace what the event itself says.
	Enrichment map[string]string `json:"enrichment,omitempty"`
	// Consent lists the explicit consent choices the event carries.
	Consent []ConsentChoice `json:"consent,omitempty"`
	// Record is the index of the record in a batched request.
	Record int `json:"-"`
	// RecordKey is the record's own stable id in a batched request: a
	// record applied once under it is never applied again.
	RecordKey string `json:"record_key,omitempty"`

	// phones are the phone identities' facts as the mapping parsed them
	// (by E.164), so enrichment need not parse them again.
	phones map[string]Phone
}

// addPhone adds p as a phone identity, keeping its facts for Enrich.
func (ev *Event) addPhone(p Phone) {
	ev.Identities = append(ev.Identities, Identity{Type: IdentityPhone, Value: p.E164})
	if ev.phones == nil {
		ev.phones = map[string]Phone{}
	}
	ev.phones[p.E164] = p
}

// Touch is one marketing touch: UTM parameters, click ids, page and referrer.
type Touch struct {
	Source      string `json:"source,omitempty"`
	Medium      string `json:"medium,omitempty"`
	Campaign    string `json:"campaign,omitempty"`
	Term        string `json:"term,omitempty"`
	Content     string `json:"content,omitempty"`
	Gclid       string `json:"gclid,omitempty"`
	Fbclid      string `json:"fbclid,omitempty"`
	LiFatID     string `json:"li_fat_id,omitempty"`
	PageURL     string `json:"page_url,omitempty"`
	Referrer    string `json:"referrer,omitempty"`
	CycleSource string `json:"cyclehub_source,omitempty"`
	// Channel classifies the touch: paid_search, paid_social, paid_other,
	// email, social, organic_search, referral or direct (see Channel).
	Channel string    `json:"channel,omitempty"`
	At      time.Time `json:"at"`
}

// Empty reports whether the touch carries no marketing information.
func (t *Touch) Empty() bool {
	return t == nil || (t.Source == "" && t.Medium == "" && t.Campaign == "" && t.Term == "" &&
		t.Content == "" && t.Gclid == "" && t.Fbclid == "" && t.LiFatID == "" &&
		t.PageURL == "" && t.Referrer == "")
}
