package pipeline

import (
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// Replay rebuilds c's lifecycle under model from its stored history: a
// fresh lifecycle (keeping who referred whom), each event folded in at its
// own time, then time brought up to now. c is not changed.
//
// The history holds each interaction's type, source and properties, and
// the customer's traits as they are now: rules on event.traits see none,
// and fit is judged on today's traits throughout.
func Replay(model *mapping.Model, c *mapping.Customer, history []*mapping.Event, now time.Time) mapping.Lifecycle {
	r := *c
	r.Lifecycle = mapping.Lifecycle{ReferredBy: c.Lifecycle.ReferredBy, ReferralCount: c.Lifecycle.ReferralCount}
	for _, ev := range history {
		if ev.OccurredAt.After(now) {
			break
		}
		model.Evaluate(&r, ev, ev.OccurredAt)
	}
	model.Evaluate(&r, nil, now)
	return r.Lifecycle
}

// BacktestDiff is one customer the proposed rules would place elsewhere.
type BacktestDiff struct {
	CustomerID string `json:"customer_id"`
	StageFrom  string `json:"stage_from"`
	StageTo    string `json:"stage_to"`
	BandFrom   string `json:"band_from"`
	BandTo     string `json:"band_to"`
	StatusFrom string `json:"customer_status_from,omitempty"`
	StatusTo   string `json:"customer_status_to,omitempty"`
}

// Backtest compares two models on the same replayed histories, so the
// differences it counts are the rules' and nothing else's.
type Backtest struct {
	Current, Proposed *mapping.Model `json:"-"`
	Now               time.Time      `json:"now"`
	// MaxListed caps the customers listed (every one is counted).
	MaxListed int `json:"-"`

	Customers       int            `json:"customers"`
	StageChanged    int            `json:"stage_changed"`
	BandChanged     int            `json:"band_changed"`
	StatusChanged   int            `json:"customer_status_changed"`
	StageMoves      map[string]int `json:"stage_moves"`
	BandMoves       map[string]int `json:"band_moves"`
	ProposedByStage map[string]int `json:"proposed_by_stage"`
	Changes         []BacktestDiff `json:"changes"`
	// Unlisted counts changed customers past MaxListed.
	Unlisted int `json:"unlisted"`
	// Drifted counts customers whose stored stage or band differs from
	// the current rules' replay (history the replay cannot see: traits
	// events carried, stages set before the rules changed).
	Drifted int `json:"drifted_from_stored"`
}

// Add replays one customer under both models.
func (b *Backtest) Add(c *mapping.Customer, history []*mapping.Event) {
	if b.StageMoves == nil {
		b.StageMoves, b.BandMoves, b.ProposedByStage = map[string]int{}, map[string]int{}, map[string]int{}
	}
	b.Customers++
	cur := Replay(b.Current, c, history, b.Now)
	next := Replay(b.Proposed, c, history, b.Now)
	if cur.Stage != c.Lifecycle.Stage || cur.Scores.Band != c.Lifecycle.Scores.Band {
		b.Drifted++
	}
	b.ProposedByStage[orNone(next.Stage)]++
	d := BacktestDiff{CustomerID: c.ID, StageFrom: cur.Stage, StageTo: next.Stage, BandFrom: cur.Scores.Band, BandTo: next.Scores.Band}
	changed := false
	if cur.Stage != next.Stage {
		b.StageChanged++
		b.StageMoves[moveKey(cur.Stage, next.Stage)]++
		changed = true
	}
	if cur.Scores.Band != next.Scores.Band {
		b.BandChanged++
		b.BandMoves[moveKey(cur.Scores.Band, next.Scores.Band)]++
		changed = true
	}
	if cur.Status != next.Status {
		b.StatusChanged++
		d.StatusFrom, d.StatusTo = cur.Status, next.Status
		changed = true
	}
	if !changed {
		return
	}
	if len(b.Changes) < b.MaxListed {
		b.Changes = append(b.Changes, d)
	} else {
		b.Unlisted++
	}
}

// moveKey names a change from one stage or band to another in reports.
func moveKey(from, to string) string { return orNone(from) + " → " + orNone(to) }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
