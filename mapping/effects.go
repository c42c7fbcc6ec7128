package mapping

import "time"

// Effects is everything processing one batch of inbox requests changes in
// the record, written by the store in one transaction: the customers as
// they now are, their new identity links, the timeline, the outbox, and the
// final state of every request.
type Effects struct {
	Customers   []*Customer
	Identities  []IdentityLink
	Timeline    []TimelineEntry
	Outbox      []*CloudEvent
	Done        []int64
	Quarantined []Disposition
	Retry       []Disposition
}

// Empty reports whether there is nothing to write.
func (e *Effects) Empty() bool {
	return len(e.Customers) == 0 && len(e.Identities) == 0 && len(e.Timeline) == 0 &&
		len(e.Outbox) == 0 && len(e.Done) == 0 && len(e.Quarantined) == 0 && len(e.Retry) == 0
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
}
