package pipeline

import (
	"context"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// RescoreBatch is a set of locked customers to re-evaluate without an
// event, and the transaction that owns them.
type RescoreBatch interface {
	Customers() []*mapping.Customer
	// Write applies the effects and finishes the claim (queue entries,
	// sweep cursor) in the same transaction.
	Write(ctx context.Context, e *mapping.Effects) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// RescoreStats says what one re-evaluation changed.
type RescoreStats struct {
	Customers int
	// Changed counts customers whose lifecycle state was written.
	Changed int
	// StageMoves counts stage changes by "from→to".
	StageMoves map[string]int
	// BandChanges counts band changes by "from→to".
	BandChanges map[string]int
	Events      int
	// RuleErrors are rules that failed at run time, by rule id.
	RuleErrors map[string]string
}

// Add folds o into s.
func (s *RescoreStats) Add(o RescoreStats) {
	s.Customers += o.Customers
	s.Changed += o.Changed
	s.Events += o.Events
	for _, f := range []struct{ dst, src *map[string]int }{{&s.StageMoves, &o.StageMoves}, {&s.BandChanges, &o.BandChanges}} {
		for k, v := range *f.src {
			if *f.dst == nil {
				*f.dst = map[string]int{}
			}
			(*f.dst)[k] += v
		}
	}
	for k, v := range o.RuleErrors {
		if s.RuleErrors == nil {
			s.RuleErrors = map[string]string{}
		}
		s.RuleErrors[k] = v
	}
}

// Rescore re-evaluates every customer of b with model at now (time passing:
// decay, time windows, a referral counted), writes what changed with its
// events, and commits. trig says what asked for it.
func Rescore(ctx context.Context, b RescoreBatch, model *mapping.Model, now time.Time, trig mapping.Trigger) (RescoreStats, error) {
	st := RescoreStats{}
	eff := &mapping.Effects{}
	for _, c := range b.Customers() {
		st.Customers++
		lch := model.Evaluate(c, nil, now)
		for id, msg := range lch.RuleErrors {
			if st.RuleErrors == nil {
				st.RuleErrors = map[string]string{}
			}
			st.RuleErrors[id] = msg
		}
		if !lch.Changed {
			continue
		}
		st.Changed++
		n, err := lifecycleEffects(eff, model, c, lch, trig, "")
		if err != nil {
			_ = b.Rollback(ctx)
			return st, err
		}
		st.Events += n
		if lch.StageChanged() {
			st.add(&st.StageMoves, moveKey(lch.StageFrom, lch.StageTo))
		}
		if lch.BandFrom != lch.BandTo {
			st.add(&st.BandChanges, moveKey(lch.BandFrom, lch.BandTo))
		}
		if n > 0 {
			c.UpdatedAt = now
		}
		eff.Customers = append(eff.Customers, c)
	}
	if err := b.Write(ctx, eff); err != nil {
		_ = b.Rollback(ctx)
		return st, err
	}
	return st, b.Commit(ctx)
}

func (s *RescoreStats) add(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}
