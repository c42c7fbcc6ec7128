package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// RelayConfig tunes the outbox relay.
type RelayConfig struct {
	// BatchSize caps the events published per broker round trip.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes caps the payload bytes per round trip; it must stay under
	// the broker's message batch limit so one batch per partition is
	// written atomically.
	BatchBytes int `yaml:"batch_bytes"`
	// PollInterval is how often an idle relay looks for events written by
	// other replicas (this replica's pipeline wakes it at once).
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxBackoff caps the wait between retries while the broker is down.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// DefaultRelayConfig returns the defaults documented in the README.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{BatchSize: 500, BatchBytes: 768 << 10, PollInterval: 200 * time.Millisecond, MaxBackoff: 5 * time.Second}
}

// Validate reports every problem with c, each prefixed by its key.
func (c RelayConfig) Validate() []error {
	var errs []error
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("batch_size: must be between 1 and 10000, got %d", c.BatchSize))
	}
	if c.BatchBytes < 1024 || c.BatchBytes > 900<<10 {
		errs = append(errs, fmt.Errorf("batch_bytes: must be between 1024 and %d (under the broker's 1 MiB limit), got %d", 900<<10, c.BatchBytes))
	}
	if c.PollInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("poll_interval: must be at least 10ms, got %s", c.PollInterval))
	}
	if c.MaxBackoff < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("max_backoff: must be at least 100ms, got %s", c.MaxBackoff))
	}
	return errs
}

// Outbox is where the relay reads events and records their publication.
type Outbox interface {
	PendingOutbox(ctx context.Context, limit, maxBytes int) ([]mapping.OutboxRecord, error)
	MarkPublished(ctx context.Context, ids []int64) error
}

// Publisher writes a batch of events to the stream. A nil error means every
// record was acknowledged; an error implementing RecordErrors() []error
// says which ones failed (nil entries succeeded); any other error means
// none can be assumed written.
type Publisher interface {
	Write(ctx context.Context, batch []mapping.OutboxRecord) error
}

type recordErrors interface{ RecordErrors() []error }

// Lease is held by the single active relay.
type Lease interface {
	Check(ctx context.Context) error
	Release(ctx context.Context)
}

// Relay publishes the outbox to the stream, in outbox order, at least once.
type Relay struct {
	cfg     RelayConfig
	outbox  Outbox
	pub     Publisher
	acquire func(context.Context) (Lease, error)
	log     *logrus.Entry
	wake    chan struct{}
	// OnPublish, when set, observes every publish attempt.
	OnPublish func(n int, took time.Duration, err error)
}

// NewRelay returns a relay. acquire tries once to obtain the relay lease
// (only one relay publishes at a time, so events keep their order).
func NewRelay(cfg RelayConfig, outbox Outbox, pub Publisher, acquire func(context.Context) (Lease, error), log *logrus.Entry) *Relay {
	return &Relay{cfg: cfg, outbox: outbox, pub: pub, acquire: acquire, log: log, wake: make(chan struct{}, 1)}
}

// Wake tells an idle relay that events are waiting. It never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx is done. A publish in flight completes (and is
// recorded) before Run returns.
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		lease, err := r.acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.WithError(err).Debug("relay is standing by")
			}
			sleep(ctx, time.Second)
			continue
		}
		r.log.Info("relay is active")
		err = r.lead(ctx, lease)
		lease.Release(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.WithError(err).Warn("relay lost its lease")
		}
	}
	return nil
}

func (r *Relay) lead(ctx context.Context, lease Lease) error {
	failures := 0
	lastCheck := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastCheck) > 5*time.Second {
			if err := lease.Check(ctx); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		n, err := r.publishOnce(ctx)
		switch {
		case err != nil:
			failures++
			delay := min(time.Duration(1<<min(failures, 10))*50*time.Millisecond, r.cfg.MaxBackoff)
			r.log.WithError(err).WithField("retry_in", delay.String()).Warn("relay publish failed")
			sleep(ctx, delay)
		case n == 0:
			failures = 0
			select {
			case <-ctx.Done():
			case <-r.wake:
			case <-time.After(r.cfg.PollInterval):
			}
		default:
			failures = 0
		}
	}
	return nil
}

// publishOnce publishes one batch and marks what the broker acknowledged.
func (r *Relay) publishOnce(ctx context.Context) (int, error) {
	// The batch completes even when shutdown begins, so its outcome is
	// recorded; bounded so a hung broker cannot block shutdown forever.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	recs, err := r.outbox.PendingOutbox(bctx, r.cfg.BatchSize, r.cfg.BatchBytes)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	start := time.Now()
	werr := r.pub.Write(bctx, recs)
	if r.OnPublish != nil {
		r.OnPublish(len(recs), time.Since(start), werr)
	}
	ok := acknowledged(recs, werr)
	if err := r.outbox.MarkPublished(bctx, ok); err != nil {
		// The events are on the stream but not marked: they will be
		// published again (at-least-once; consumers dedup on id).
		return len(recs), err
	}
	if werr != nil {
		return len(recs), fmt.Errorf("publish %d events (%d acknowledged): %w", len(recs), len(ok), werr)
	}
	return len(recs), nil
}

// acknowledged returns the ids of records that may be marked published: for
// each customer, those before its first failed record. A later record of
// the same customer is published again after the failed one, so a
// customer's events never overtake each other.
func acknowledged(recs []mapping.OutboxRecord, err error) []int64 {
	ids := make([]int64, 0, len(recs))
	if err == nil {
		for _, rec := range recs {
			ids = append(ids, rec.ID)
		}
		return ids
	}
	var re recordErrors
	if !errors.As(err, &re) || len(re.RecordErrors()) != len(recs) {
		return ids
	}
	errs := re.RecordErrors()
	blocked := map[string]bool{}
	for i, rec := range recs {
		if errs[i] != nil {
			blocked[rec.CustomerID] = true
			continue
		}
		if !blocked[rec.CustomerID] {
			ids = append(ids, rec.ID)
		}
	}
	return ids
}
