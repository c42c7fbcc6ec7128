package pipeline

import (
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// lifecycleEffects adds what an evaluation of c changed to eff:
// stage_changed (with the stint it opens, dated when the trigger
// happened) and score_changed (band, threshold or status), each at the
// customer's next version. It returns how many events it wrote.
func lifecycleEffects(eff *mapping.Effects, model *mapping.Model, c *mapping.Customer, lch mapping.LifecycleChange, trig mapping.Trigger, requestID string) (int, error) {
	n := 0
	if lch.StageChanged() {
		c.Version++
		ce, err := mapping.StageChangedEvent(c, lch, model.Phase(lch.StageTo), trig)
		if err != nil {
			return n, err
		}
		eff.Outbox = append(eff.Outbox, ce)
		n++
		eff.StageMoves = append(eff.StageMoves, mapping.StageMove{
			CustomerID: c.ID, From: lch.StageFrom, To: lch.StageTo, At: stintStart(c, trig), Rule: lch.StageRule,
			Reason: lch.Reason, Direction: lch.Direction, RequestID: requestID, Trigger: trig.EventType, Model: model.Version,
		})
	}
	if lch.ScoreEvent() {
		c.Version++
		ce, err := mapping.ScoreChangedEvent(c, lch, trig)
		if err != nil {
			return n, err
		}
		eff.Outbox = append(eff.Outbox, ce)
		n++
	}
	return n, nil
}

// stintStart dates a stage move: when its trigger happened, but never
// before the stage's own entry (a late event) — a merge that adopts the
// merged record's stage starts the survivor's stint at the merge.
func stintStart(c *mapping.Customer, trig mapping.Trigger) time.Time {
	if trig.OccurredAt.Before(c.Lifecycle.StageEnteredAt) {
		return c.Lifecycle.StageEnteredAt
	}
	return trig.OccurredAt
}
