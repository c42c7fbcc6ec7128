package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// Config tunes the pipeline workers.
type Config struct {
	// Workers is the number of concurrent batch workers.
	Workers int `yaml:"workers"`
	// BatchSize caps the requests claimed per transaction.
	BatchSize int `yaml:"batch_size"`
	// PollInterval is how often an idle worker looks for work that another
	// replica stored (this replica's own ingest wakes workers at once).
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxAttempts bounds retries of a request failing transiently before it
	// is quarantined.
	MaxAttempts int `yaml:"max_attempts"`
	// BatchTimeout bounds one batch's transaction.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{Workers: 4, BatchSize: 200, PollInterval: 250 * time.Millisecond, MaxAttempts: 10, BatchTimeout: time.Minute}
}

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers: must be between 1 and 256, got %d", c.Workers))
	}
	if c.BatchSize < 1 || c.BatchSize > 5000 {
		errs = append(errs, fmt.Errorf("batch_size: must be between 1 and 5000, got %d", c.BatchSize))
	}
	if c.PollInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("poll_interval: must be at least 10ms, got %s", c.PollInterval))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max_attempts: must be at least 1, got %d", c.MaxAttempts))
	}
	if c.BatchTimeout < time.Second {
		errs = append(errs, fmt.Errorf("batch_timeout: must be at least 1s, got %s", c.BatchTimeout))
	}
	return errs
}

// IdentityConfig configures identity resolution.
type IdentityConfig struct {
	// Survivorship decides which value of a trait a customer keeps.
	Survivorship mapping.Survivorship `yaml:"survivorship"`
	// TestEmails never identify anyone: addresses, or domains written
	// "@example.test", that teams use to try forms out.
	TestEmails []string `yaml:"test_emails"`
}

// DefaultIdentityConfig returns the defaults documented in the README.
func DefaultIdentityConfig() IdentityConfig {
	return IdentityConfig{Survivorship: mapping.DefaultSurvivorship()}
}

// Validate reports every problem with c, each prefixed by its key.
func (c IdentityConfig) Validate() []error {
	var errs []error
	for _, e := range c.Survivorship.Validate() {
		errs = append(errs, fmt.Errorf("survivorship.%w", e))
	}
	for i, t := range c.TestEmails {
		if !strings.Contains(t, "@") {
			errs = append(errs, fmt.Errorf("test_emails[%d]: %q is neither an address nor an @domain", i, t))
		}
	}
	return errs
}

// BatchStats describes one processed batch (for metrics).
type BatchStats struct {
	Requests, Done, Quarantined, Retried, Events int
	// Suppressed counts requests about erased people, dropped.
	Suppressed int
	Took       time.Duration
	Err        error
}

// Workers claims stored requests in batches and turns them into customer
// changes and outbox events.
type Workers struct {
	cfg    Config
	inbox  Inbox
	mapper EventMapper
	log    *logrus.Entry
	now    func() time.Time
	wake   chan struct{}
	// OnBatch, when set, observes every batch.
	OnBatch func(BatchStats)
	// OnEvents, when set, is called after a commit that wrote outbox events
	// (the relay's wake-up).
	OnEvents func()
	// Identity configures resolution (DefaultIdentityConfig unless set).
	Identity IdentityConfig
	// SuppressionKey keys the suppression list's hashes of erased people's
	// identifiers (the same key the eraser uses).
	SuppressionKey []byte
	// Enricher, when set, adds traits from an enrichment API to the
	// batch's events before they are resolved (best effort, time-boxed).
	Enricher Enricher
	// model scores customers and moves their stages (none: no lifecycle).
	model atomic.Pointer[mapping.Model]
}

// SetModel switches to a (reloaded) lifecycle model; batches in flight
// finish with the one they started with.
func (w *Workers) SetModel(m *mapping.Model) { w.model.Store(m) }

// Model returns the current lifecycle model (nil: none).
func (w *Workers) Model() *mapping.Model { return w.model.Load() }

// Enricher adds traits to events; it never fails the batch: whatever it
// cannot do within its budget, events go on without.
type Enricher interface {
	Enrich(ctx context.Context, evs []*mapping.Event)
}

// NewWorkers returns the pipeline workers. now is the clock (injected so
// tests control time).
func NewWorkers(cfg Config, inbox Inbox, mapper EventMapper, log *logrus.Entry, now func() time.Time) *Workers {
	return &Workers{cfg: cfg, inbox: inbox, mapper: mapper, log: log, now: now, wake: make(chan struct{}, 1),
		Identity: DefaultIdentityConfig()}
}

// Wake tells an idle worker that new requests are stored. It never blocks.
func (w *Workers) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run runs the workers until ctx is done; batches in flight finish first.
func (w *Workers) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range w.cfg.Workers {
		wg.Go(func() { w.loop(ctx, w.log.WithField("worker", i)) })
	}
	wg.Wait()
	return nil
}

func (w *Workers) loop(ctx context.Context, log *logrus.Entry) {
	failures := 0
	for ctx.Err() == nil {
		n, err := w.runOnce(ctx, log)
		switch {
		case err != nil:
			failures++
			delay := min(time.Duration(failures)*200*time.Millisecond, 5*time.Second)
			log.WithError(err).WithField("retry_in", delay.String()).Warn("pipeline batch failed")
			sleep(ctx, delay)
		case n == 0:
			failures = 0
			select {
			case <-ctx.Done():
			case <-w.wake:
			case <-time.After(w.cfg.PollInterval):
			}
		default:
			failures = 0
		}
	}
}

// runOnce processes one batch and returns how many requests it claimed.
func (w *Workers) runOnce(ctx context.Context, log *logrus.Entry) (int, error) {
	// A batch, once claimed, finishes even when shutdown begins.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.BatchTimeout)
	defer cancel()
	b, err := w.inbox.Claim(bctx, w.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	n := len(b.Requests())
	if n == 0 {
		return 0, b.Rollback(bctx)
	}
	if err := w.runBatch(bctx, b); err != nil {
		var p permanent
		if !errors.As(err, &p) || !p.Permanent() {
			return n, err
		}
		// Something in this batch cannot be written. Redo it one request
		// at a time so only the poison request is set aside.
		log.WithError(err).WithField("requests", n).Warn("batch write failed permanently; isolating the poison request")
		for _, r := range b.Requests() {
			if err := w.runIsolated(bctx, r.ID); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (w *Workers) runBatch(ctx context.Context, b Batch) error {
	start := time.Now()
	out, err := w.process(ctx, b)
	if err == nil {
		err = b.Commit(ctx)
	}
	if rbErr := b.Rollback(ctx); err == nil && rbErr != nil {
		err = rbErr
	}
	if w.OnBatch != nil {
		w.OnBatch(BatchStats{Requests: out.requests, Done: out.done, Quarantined: out.quarantined,
			Retried: out.retried, Suppressed: out.suppressed, Events: out.events, Took: time.Since(start), Err: err})
	}
	if err == nil && out.events > 0 && w.OnEvents != nil {
		w.OnEvents()
	}
	return err
}

// runIsolated processes one request alone; if it still fails permanently
// it is quarantined with the reason.
func (w *Workers) runIsolated(ctx context.Context, id int64) error {
	b, err := w.inbox.ClaimIDs(ctx, []int64{id})
	if err != nil {
		return err
	}
	if len(b.Requests()) == 0 {
		return b.Rollback(ctx)
	}
	err = w.runBatch(ctx, b)
	var p permanent
	if err == nil || !errors.As(err, &p) || !p.Permanent() {
		return err
	}
	w.log.WithError(err).WithField("inbox_id", id).Error("request quarantined: its effects cannot be stored")
	q, err2 := w.inbox.ClaimIDs(ctx, []int64{id})
	if err2 != nil {
		return err2
	}
	reqs := q.Requests()
	if len(reqs) == 1 {
		eff := &mapping.Effects{Quarantined: []mapping.Disposition{{InboxID: id, Reason: err.Error(), NotBefore: w.now()}}}
		if err2 = q.Write(ctx, eff); err2 == nil {
			err2 = q.Commit(ctx)
		}
		if err2 == nil && w.OnBatch != nil {
			w.OnBatch(BatchStats{Requests: 1, Quarantined: 1})
		}
	}
	if rb := q.Rollback(ctx); err2 == nil {
		err2 = rb
	}
	return err2
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
