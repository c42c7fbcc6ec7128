package mapping

import "time"

// Effects is everything processing one batch of inbox requests changes in
// the record, written by the store in one transaction: the customers as
// they now are, their new identity links, the timeline, the outbox, and the
// final state of every request.
type Effects struct {
	// Customers as they now are, merged tombstones included.
	Customers []*Customer
	// Merges move everything of the merged record to its survivor; they
	// are written before the identity links.
	Merges     []Merge
	Conflicts  []MergeConflict
	Identities []IdentityLink
	Timeline   []TimelineEntry
	Consent    []ConsentRecord
	Tickets    []Ticket
	Responses  []SurveyResponse
	// StageMoves close each customer's current stint and open the next.
	StageMoves []StageMove
	// Referrals link new people to who referred them.
	Referrals []Referral
	Outbox    []*CloudEvent
	// Contacts, when set, are the contacts deliveries carry, by customer
	// id (an erasure captures them before wiping the record); otherwise
	// they are taken from Customers.
	Contacts map[string]*Contact
	Done     []int64
	// Suppressed are requests about erased people: dropped, their raw
	// payload wiped.
	Suppressed  []int64
	Quarantined []Disposition
	Retry       []Disposition
}

// Merge records that MergedID was merged into SurvivorID because one event
// carried identifiers of both (IdentityType names the linking kind).
type Merge struct {
	SurvivorID   string
	MergedID     string
	IdentityType IdentityType
	InboxID      int64
	Source       string
	At           time.Time
}

// MergeConflict is a merge refused: it would give one person two tenant
// user ids.
type MergeConflict struct {
	CustomerIDs []string
	Reason      string
	InboxID     int64
	Source      string
	At          time.Time
}

// IdentityLink attaches an identifier to a customer (or refreshes its
// last-seen time).
type IdentityLink struct {
	Identity   Identity
	CustomerID string
	Source     string
	SeenAt     time.Time
}

// TimelineEntry is one interaction of a customer.
type TimelineEntry struct {
	CustomerID string
	InboxID    int64
	// RecordIndex is the record's position in a batched request.
	RecordIndex int
	Source      string
	Type        string
	OccurredAt  time.Time
	Properties  map[string]any
}

// Disposition is the outcome of a request that did not complete: why, and
// for a retry when to try again.
type Disposition struct {
	InboxID   int64
	Reason    string
	NotBefore time.Time
}

// OutboxRecord is a published-to-be event as the relay reads it.
type OutboxRecord struct {
	ID         int64
	EventID    string
	CustomerID string
	Type       string
	Sequence   int64
	Time       time.Time
	// Payload is the complete CloudEvent in structured JSON.
	Payload []byte

	// Delivery fields, for outbound connectors (zero on the stream).
	// IdempotencyKey is the same on every attempt of one delivery;
	// Attempt counts from 1 (again after a replay); Replays counts the
	// operator's replays of the delivery; Contact carries the person's
	// identifiers and profile to destinations that need them (a CRM),
	// nil otherwise.
	IdempotencyKey string
	Attempt        int
	Replays        int
	Contact        *Contact
}

// StageMove is a customer entering a stage (leaving the one before).
type StageMove struct {
	CustomerID string
	From, To   string
	At         time.Time
	Rule       string
	Reason     string
	Direction  string
	RequestID  string
	// Trigger is what moved it: the event type, or the re-evaluation
	// (lifecycle.sweep, lifecycle.requeued, rules.apply).
	Trigger string
	Model   string
}

// Referral records who referred a customer.
type Referral struct {
	ReferrerID string
	ReferredID string
	Source     string
	At         time.Time
}
