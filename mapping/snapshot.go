package mapping

import (
	"encoding/json"
	"fmt"
	"time"
)

// CustomerSnapshot is a customer's latest record as the compacted snapshot
// topic carries it (keyed by customer id): what a downstream table
// upserts. Like the lifecycle stream, it carries no direct identifiers.
type CustomerSnapshot struct {
	CustomerID string            `json:"customer_id"`
	Version    int64             `json:"version"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Traits     map[string]string `json:"traits"`
	Consent    map[string]string `json:"consent,omitempty"`
	FirstTouch *Touch            `json:"first_touch,omitempty"`
	LastTouch  *Touch            `json:"last_touch,omitempty"`
	Stage      string            `json:"stage,omitempty"`
	// StageEnteredAt is when the customer entered Stage.
	StageEnteredAt *time.Time `json:"stage_entered_at,omitempty"`
	Status         string     `json:"customer_status,omitempty"`
	// Scores are absent before the first scoring.
	Scores        *ScoreSummary `json:"scores,omitempty"`
	ReferredBy    string        `json:"referred_by,omitempty"`
	ReferralCount int           `json:"referral_count"`
}

// SnapshotRecord is one message of the snapshot topic: the customer's
// snapshot, or a tombstone (nil Payload) for a record erased or merged
// into another.
type SnapshotRecord struct {
	CustomerID string
	Version    int64
	Payload    []byte
}

// SnapshotOf builds c's snapshot record; gone says the record was erased
// or merged away (a tombstone).
func SnapshotOf(c *Customer, gone bool) (SnapshotRecord, error) {
	rec := SnapshotRecord{CustomerID: c.ID, Version: c.Version}
	if gone {
		return rec, nil
	}
	lc := c.Lifecycle
	s := CustomerSnapshot{
		CustomerID: c.ID, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Traits: streamTraits(c), Consent: consentStatuses(c),
		FirstTouch: streamTouch(c.FirstTouch), LastTouch: streamTouch(c.LastTouch),
		Stage: lc.Stage, Status: lc.Status, ReferredBy: lc.ReferredBy, ReferralCount: lc.ReferralCount,
	}
	if !lc.StageEnteredAt.IsZero() {
		t := lc.StageEnteredAt
		s.StageEnteredAt = &t
	}
	if lc.Scores.Model != "" {
		sum := summary(lc.Scores)
		s.Scores = &sum
	}
	b, err := json.Marshal(s)
	if err != nil {
		return rec, fmt.Errorf("encode snapshot of %s: %w", c.ID, err)
	}
	rec.Payload = b
	return rec, nil
}
