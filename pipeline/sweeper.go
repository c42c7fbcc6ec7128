package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// SweepConfig schedules the lifecycle sweeper: scores decay and time
// rules hold (a customer silent for 60 days) without any event, so every
// customer is re-evaluated on a schedule too.
type SweepConfig struct {
	// Interval is how often a sweep over every customer starts.
	Interval time.Duration `yaml:"interval"`
	// BatchSize caps the customers re-evaluated per transaction.
	BatchSize int `yaml:"batch_size"`
	// QueueInterval is how often the queue of customers to re-evaluate
	// soon (a referrer whose count grew) is read when nothing wakes it.
	QueueInterval time.Duration `yaml:"queue_interval"`
}

// DefaultSweepConfig returns the defaults documented in the README.
func DefaultSweepConfig() SweepConfig {
	return SweepConfig{Interval: time.Hour, BatchSize: 500, QueueInterval: time.Second}
}

// Validate reports every problem with c, each prefixed by its key.
func (c SweepConfig) Validate() []error {
	var errs []error
	if c.Interval < time.Minute {
		errs = append(errs, fmt.Errorf("interval: must be at least 1m, got %s", c.Interval))
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("batch_size: must be between 1 and 10000, got %d", c.BatchSize))
	}
	if c.QueueInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("queue_interval: must be at least 10ms, got %s", c.QueueInterval))
	}
	return errs
}

// RescoreStore hands out customers to re-evaluate without an event.
type RescoreStore interface {
	// ClaimQueued locks up to limit customers queued for re-evaluation
	// (none that another transaction holds).
	ClaimQueued(ctx context.Context, limit int) (RescoreBatch, error)
	// ClaimSweep locks the next customers of the periodic sweep when one is
	// due at now (a sweep starts every interval, on one replica at a time);
	// none when no sweep is due.
	ClaimSweep(ctx context.Context, limit int, now time.Time, every time.Duration) (RescoreBatch, error)
}

// Trigger event types of re-evaluations without an event (the trigger of
// the stage_changed and score_changed events they publish).
const (
	TriggerSweep    = "lifecycle.sweep"
	TriggerReferral = "lifecycle.requeued"
	TriggerApply    = "rules.apply"
	triggerSource   = "cyclehub"
)

// Sweeper re-evaluates customers as time passes: first those queued (a
// referral counted), then, on schedule, everyone in id order.
type Sweeper struct {
	cfg   SweepConfig
	store RescoreStore
	model func() *mapping.Model
	log   *logrus.Entry
	now   func() time.Time
	wake  chan struct{}
	// OnRescore, when set, observes every batch (for metrics).
	OnRescore func(RescoreStats, error)
	// OnEvents, when set, is called after a commit that wrote events.
	OnEvents func()
}

// NewSweeper returns the sweeper. model returns the current lifecycle
// model (nil: none, nothing to do); now is the clock.
func NewSweeper(cfg SweepConfig, store RescoreStore, model func() *mapping.Model, log *logrus.Entry, now func() time.Time) *Sweeper {
	return &Sweeper{cfg: cfg, store: store, model: model, log: log, now: now, wake: make(chan struct{}, 1)}
}

// Wake makes the sweeper read its queue now.
func (s *Sweeper) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sweeps until ctx is done.
func (s *Sweeper) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		worked, err := s.RunOnce(ctx)
		switch {
		case err != nil:
			failures++
			delay := min(time.Duration(failures)*500*time.Millisecond, 10*time.Second)
			s.log.WithError(err).WithField("retry_in", delay.String()).Warn("lifecycle re-evaluation failed")
			sleep(ctx, delay)
		case !worked:
			failures = 0
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-time.After(s.cfg.QueueInterval):
			}
		default:
			failures = 0
		}
	}
	return nil
}

// RunOnce re-evaluates one batch of queued customers and one batch of the
// sweep (when due), and reports whether there was anything to do.
func (s *Sweeper) RunOnce(ctx context.Context) (bool, error) {
	model := s.model()
	if model == nil {
		return false, nil
	}
	worked := false
	for _, step := range []struct {
		trigger string
		claim   func(context.Context) (RescoreBatch, error)
	}{
		{TriggerReferral, func(ctx context.Context) (RescoreBatch, error) {
			return s.store.ClaimQueued(ctx, s.cfg.BatchSize)
		}},
		{TriggerSweep, func(ctx context.Context) (RescoreBatch, error) {
			return s.store.ClaimSweep(ctx, s.cfg.BatchSize, s.now(), s.cfg.Interval)
		}},
	} {
		n, err := s.rescore(ctx, model, step.trigger, step.claim)
		if err != nil {
			return worked, err
		}
		worked = worked || n > 0
	}
	return worked, nil
}

func (s *Sweeper) rescore(ctx context.Context, model *mapping.Model, trigger string, claim func(context.Context) (RescoreBatch, error)) (int, error) {
	// A batch, once claimed, finishes even when shutdown begins.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	b, err := claim(bctx)
	if err != nil {
		return 0, err
	}
	if b == nil {
		return 0, nil
	}
	now := s.now()
	st, err := Rescore(bctx, b, model, now, mapping.Trigger{Source: triggerSource, EventType: trigger, OccurredAt: now})
	if s.OnRescore != nil {
		s.OnRescore(st, err)
	}
	if err != nil {
		return 0, err
	}
	if len(st.RuleErrors) > 0 {
		s.log.WithField("rules", st.RuleErrors).Warn("lifecycle rules failed at run time; treated as not holding")
	}
	if st.Events > 0 && s.OnEvents != nil {
		s.OnEvents()
	}
	return max(st.Customers, 1), nil
}
