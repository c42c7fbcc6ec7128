package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// RetentionConfig bounds how long raw requests are kept for replay.
type RetentionConfig struct {
	// RawPayloads is how long a processed raw request is kept (DOMAIN.md:
	// 30 days by default); pending ones are kept until processed.
	RawPayloads time.Duration `yaml:"raw_payloads"`
	// Deliveries is how long a delivery is kept once delivered or
	// dead-lettered (for inspection and replay).
	Deliveries time.Duration `yaml:"deliveries"`
	// Interval is how often the purge runs.
	Interval time.Duration `yaml:"interval"`
	// BatchSize caps the rows deleted per statement.
	BatchSize int `yaml:"batch_size"`
}

// DefaultRetentionConfig returns the defaults documented in the README.
func DefaultRetentionConfig() RetentionConfig {
	return RetentionConfig{RawPayloads: 30 * 24 * time.Hour, Deliveries: 30 * 24 * time.Hour, Interval: time.Hour, BatchSize: 1000}
}

// Validate reports every problem with c, each prefixed by its key.
func (c RetentionConfig) Validate() []error {
	var errs []error
	if c.RawPayloads < time.Hour {
		errs = append(errs, fmt.Errorf("raw_payloads: must be at least 1h, got %s", c.RawPayloads))
	}
	if c.Deliveries < time.Hour {
		errs = append(errs, fmt.Errorf("deliveries: must be at least 1h, got %s", c.Deliveries))
	}
	if c.Interval < time.Minute {
		errs = append(errs, fmt.Errorf("interval: must be at least 1m, got %s", c.Interval))
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		errs = append(errs, fmt.Errorf("batch_size: must be between 1 and 100000, got %d", c.BatchSize))
	}
	return errs
}

// Purger deletes raw requests past retention, published events and
// finished deliveries.
type Purger interface {
	PurgeRawPayloads(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	PrunePublished(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

// Retention purges raw requests past their retention, in small batches so
// it never holds long locks, on a schedule.
type Retention struct {
	cfg    RetentionConfig
	purger Purger
	log    *logrus.Entry
	now    func() time.Time
	// OnPurge, when set, observes every purge pass.
	OnPurge func(deleted int64, err error)
	// KeepPublished is how long published events stay in the outbox (0:
	// they are not pruned).
	KeepPublished time.Duration
	// OnPrune, when set, observes every prune of published events.
	OnPrune func(deleted int64, err error)
}

// NewRetention returns the retention job. now is the clock.
func NewRetention(cfg RetentionConfig, purger Purger, log *logrus.Entry, now func() time.Time) *Retention {
	return &Retention{cfg: cfg, purger: purger, log: log, now: now}
}

// Run purges once at start and then every interval, until ctx is done.
func (r *Retention) Run(ctx context.Context) error {
	for {
		n, err := r.PurgeOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.WithError(err).Warn("raw payload purge failed; will retry")
		case n > 0:
			r.log.WithField("deleted", n).Info("raw payloads past retention purged")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.cfg.Interval):
		}
	}
}

// PurgeOnce deletes every processed raw request and finished delivery
// older than their retention and every event published longer ago than
// KeepPublished, and returns how many raw requests.
func (r *Retention) PurgeOnce(ctx context.Context) (int64, error) {
	total, err := r.inBatches(ctx, r.purger.PurgeRawPayloads, r.now().Add(-r.cfg.RawPayloads), r.OnPurge)
	if r.cfg.Deliveries > 0 {
		n, derr := r.inBatches(ctx, r.purger.PruneDeliveries, r.now().Add(-r.cfg.Deliveries), nil)
		switch {
		case derr != nil && ctx.Err() == nil:
			r.log.WithError(derr).Warn("finished deliveries prune failed; will retry")
		case n > 0:
			r.log.WithField("deleted", n).Info("finished deliveries past retention pruned")
		}
	}
	if r.KeepPublished <= 0 {
		return total, err
	}
	pruned, perr := r.inBatches(ctx, r.purger.PrunePublished, r.now().Add(-r.KeepPublished), r.OnPrune)
	if pruned > 0 {
		r.log.WithField("deleted", pruned).Debug("published events pruned from the outbox")
	}
	return total, errors.Join(err, perr)
}

func (r *Retention) inBatches(ctx context.Context, del func(context.Context, time.Time, int) (int64, error), cutoff time.Time, observe func(int64, error)) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		n, err := del(ctx, cutoff, r.cfg.BatchSize)
		total += n
		if observe != nil {
			observe(n, err)
		}
		if err != nil || n < int64(r.cfg.BatchSize) {
			return total, err
		}
	}
	return total, ctx.Err()
}
