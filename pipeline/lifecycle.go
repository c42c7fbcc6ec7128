package pipeline

import "github.com/cyclehub/cyclehub/mapping"

// lifecycleEffects adds what an evaluation of c changed to eff:
// stage_changed (with the stint it opens) and score_changed (band,
// threshold or status), each at the customer's next version. It returns
// how many events it wrote.
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
			CustomerID: c.ID, From: lch.StageFrom, To: lch.StageTo, At: c.Lifecycle.StageEnteredAt, Rule: lch.StageRule,
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
