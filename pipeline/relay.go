package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	// Ranges splits the outbox's 256 customer buckets into this many
	// ranges, each published by exactly one relay at a time (its leader);
	// replicas share the ranges evenly.
	Ranges int `yaml:"ranges"`
	// StandbyInterval is how often a relay recounts the relays running and
	// tries to take a range it may lead: a dead leader's ranges are taken
	// over within about two intervals of PostgreSQL dropping its session.
	StandbyInterval time.Duration `yaml:"standby_interval"`
	// KeepPublished is how long published events stay in the outbox
	// before the retention job deletes them.
	KeepPublished time.Duration `yaml:"keep_published"`
}

// DefaultRelayConfig returns the defaults documented in the README.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{BatchSize: 500, BatchBytes: 768 << 10, PollInterval: 200 * time.Millisecond, MaxBackoff: 5 * time.Second,
		Ranges: 4, StandbyInterval: time.Second, KeepPublished: 24 * time.Hour}
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
	if c.Ranges < 1 || c.Ranges > buckets {
		errs = append(errs, fmt.Errorf("ranges: must be between 1 and %d, got %d", buckets, c.Ranges))
	}
	if c.StandbyInterval < 50*time.Millisecond || c.StandbyInterval > time.Minute {
		errs = append(errs, fmt.Errorf("standby_interval: must be between 50ms and 1m, got %s", c.StandbyInterval))
	}
	if c.KeepPublished < time.Minute {
		errs = append(errs, fmt.Errorf("keep_published: must be at least 1m, got %s", c.KeepPublished))
	}
	return errs
}

// buckets is how many hash buckets the outbox spreads customers over.
const buckets = 256

// BucketRange is the outbox buckets Lo..Hi (inclusive) of one range.
type BucketRange struct{ Index, Lo, Hi int }

// Ranges splits the buckets into n contiguous ranges.
func Ranges(n int) []BucketRange {
	out := make([]BucketRange, n)
	for i := range n {
		out[i] = BucketRange{Index: i, Lo: i * buckets / n, Hi: (i+1)*buckets/n - 1}
	}
	return out
}

// Outbox is where the relay reads events and records their publication.
type Outbox interface {
	// PendingOutbox returns unpublished events of buckets lo..hi in order.
	PendingOutbox(ctx context.Context, lo, hi, limit, maxBytes int) ([]mapping.OutboxRecord, error)
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

// Snapshots feeds the compacted snapshot topic: after each batch, the
// latest record of every customer in it.
type Snapshots interface {
	// Snapshots reads the customers' records as they are now.
	Snapshots(ctx context.Context, customerIDs []string) ([]mapping.SnapshotRecord, error)
	// WriteSnapshots publishes them (a nil payload is a tombstone).
	WriteSnapshots(ctx context.Context, recs []mapping.SnapshotRecord) error
}

// Lease is a held lock: a range's leadership or a relay's membership.
type Lease interface {
	Check(ctx context.Context) error
	Release(ctx context.Context)
}

// RelayLocks elects relays: one leader per range, and the list of the
// relays running so each takes its share.
type RelayLocks interface {
	// Join registers this relay, which splits the buckets into ranges,
	// for as long as the lease is held.
	Join(ctx context.Context, ranges int) (Lease, error)
	// Members lists the relays running, and the ranges setting of the
	// leader of each range led.
	Members(ctx context.Context) (members []RelayMember, leading []int, err error)
	// AcquireRange tries once to lead range index of the split into
	// ranges; an error when another relay holds it (or the database
	// cannot say).
	AcquireRange(ctx context.Context, ranges, index int) (Lease, error)
}

// RelayMember is a running relay: its member slot (the lowest free one
// when it joined) and how many ranges it splits the buckets into.
type RelayMember struct{ Slot, Ranges int }

// Relay publishes the outbox to the stream, at least once, in order per
// customer. The outbox's buckets are split into ranges; each range has at
// most one leader among all replicas (a PostgreSQL advisory lock), and
// each relay leads about ranges ÷ relays of them. When a leader dies its
// ranges are taken over within StandbyInterval.
type Relay struct {
	cfg   RelayConfig
	out   Outbox
	pub   Publisher
	locks RelayLocks
	log   *logrus.Entry
	// wake has one channel per range.
	wake []chan struct{}
	// held counts the ranges this relay leads; share is what it may lead.
	held, share atomic.Int64
	// OnPublish, when set, observes every publish attempt.
	OnPublish func(n int, took time.Duration, err error)
	// OnLeading, when set, observes every range taken (true) or given up.
	OnLeading func(index int, leading bool)
	// Snapshots, when set, publishes each batch's customers' latest
	// records before the batch counts as published.
	Snapshots Snapshots
}

// NewRelay returns a relay.
func NewRelay(cfg RelayConfig, outbox Outbox, pub Publisher, locks RelayLocks, log *logrus.Entry) *Relay {
	r := &Relay{cfg: cfg, out: outbox, pub: pub, locks: locks, log: log, wake: make([]chan struct{}, cfg.Ranges)}
	for i := range r.wake {
		r.wake[i] = make(chan struct{}, 1)
	}
	// Nothing until balance has seen who else runs.
	r.share.Store(0)
	return r
}

// Wake tells idle range leaders that events are waiting. It never blocks.
func (r *Relay) Wake() {
	for _, w := range r.wake {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Leading returns how many ranges this relay leads.
func (r *Relay) Leading() int { return int(r.held.Load()) }

// Run publishes until ctx is done. Publishes in flight complete (and are
// recorded) before Run returns.
func (r *Relay) Run(ctx context.Context) error {
	var member Lease
	for member == nil && ctx.Err() == nil {
		m, err := r.locks.Join(ctx, r.cfg.Ranges)
		if err != nil {
			r.log.WithError(err).Warn("relay cannot register yet")
			sleep(ctx, r.cfg.StandbyInterval)
			continue
		}
		member = m
	}
	if member == nil {
		return nil
	}
	var wg sync.WaitGroup
	balanced := make(chan struct{})
	// balance may register again (a lost membership); it returns the
	// lease it holds, released once every range is.
	wg.Go(func() { member = r.balance(ctx, member, balanced) })
	for _, rng := range Ranges(r.cfg.Ranges) {
		wg.Go(func() {
			select { // the share is known once balance has looked
			case <-balanced:
			case <-ctx.Done():
			}
			r.runRange(ctx, rng)
		})
	}
	wg.Wait()
	if member != nil {
		member.Release(context.WithoutCancel(ctx))
	}
	return nil
}

// balance keeps this relay's share of the ranges up to date: an even
// split among the relays running, rounded up.
//
// Relays split the buckets one way at a time (a range of one split is not
// a range of another). The split of the relay in the lowest member slot
// is the one used; a relay with another setting leads nothing, and one
// with that setting starts only once no range of another split is led. So
// a rolling change of relay.ranges pauses publishing for a moment, but
// never publishes one bucket twice at once.
func (r *Relay) balance(ctx context.Context, member Lease, balanced chan<- struct{}) Lease {
	warned := false
	for first := true; ctx.Err() == nil; first = false {
		if member == nil {
			// The membership died with its connection (PostgreSQL
			// restarted, or dropped the session): register again, or
			// this relay never leads a range again.
			if m, err := r.locks.Join(ctx, r.cfg.Ranges); err == nil {
				member = m
				r.log.Info("relay registered again")
			}
		}
		members, leading, err := r.locks.Members(ctx)
		if err == nil && member == nil {
			err = errors.New("relay not registered")
		}
		if err == nil {
			if err = member.Check(ctx); err != nil {
				r.log.WithError(err).Warn("relay registration lost; registering again")
				member.Release(ctx)
				member = nil
			}
		}
		var share int
		switch {
		case err != nil:
			// Unsure who runs: keep what is held, take nothing new.
			share = int(r.held.Load())
		default:
			share, warned = r.shareOf(members, leading, warned)
		}
		r.share.Store(int64(share))
		if first {
			close(balanced)
		}
		sleep(ctx, r.cfg.StandbyInterval)
	}
	return member
}

// shareOf computes this relay's share from the relays running and the
// splits of the ranges led.
func (r *Relay) shareOf(members []RelayMember, leading []int, warned bool) (int, bool) {
	if len(members) == 0 {
		return 0, warned
	}
	oldest := slices.MinFunc(members, func(a, b RelayMember) int { return a.Slot - b.Slot })
	if oldest.Ranges != r.cfg.Ranges || slices.ContainsFunc(leading, func(n int) bool { return n != r.cfg.Ranges }) {
		if !warned {
			r.log.WithField("ranges", r.cfg.Ranges).WithField("running_relay_ranges", oldest.Ranges).
				Warn("another relay splits the outbox into a different number of ranges: standing by until it stops")
		}
		return 0, true
	}
	same := 0
	for _, m := range members {
		if m.Ranges == r.cfg.Ranges {
			same++
		}
	}
	return (r.cfg.Ranges + same - 1) / same, false
}

// runRange leads one range whenever this relay may and can.
func (r *Relay) runRange(ctx context.Context, rng BucketRange) {
	log := r.log.WithField("range", fmt.Sprintf("%d (buckets %d-%d)", rng.Index, rng.Lo, rng.Hi))
	for ctx.Err() == nil {
		if !r.reserve() {
			sleep(ctx, r.cfg.StandbyInterval)
			continue
		}
		lease, err := r.locks.AcquireRange(ctx, r.cfg.Ranges, rng.Index)
		if err != nil {
			r.held.Add(-1)
			sleep(ctx, r.cfg.StandbyInterval)
			continue
		}
		log.Info("relay leads the range")
		if r.OnLeading != nil {
			r.OnLeading(rng.Index, true)
		}
		err = r.lead(ctx, rng, lease)
		lease.Release(ctx)
		if r.OnLeading != nil {
			r.OnLeading(rng.Index, false)
		}
		switch {
		case errors.Is(err, errHandedOver):
			// Given up to even out the load (release counted it): leave
			// it to the others a while.
			log.Info("relay hands the range over")
			sleep(ctx, 3*r.cfg.StandbyInterval)
		case err != nil:
			r.held.Add(-1)
			log.WithError(err).Warn("relay lost the range")
		default: // shutting down
			r.held.Add(-1)
		}
	}
}

// reserve counts one more range led if this relay is under its share.
func (r *Relay) reserve() bool {
	for {
		h := r.held.Load()
		if h >= r.share.Load() {
			return false
		}
		if r.held.CompareAndSwap(h, h+1) {
			return true
		}
	}
}

// release counts one range less led if this relay is over its share.
func (r *Relay) release() bool {
	for {
		h := r.held.Load()
		if h <= r.share.Load() {
			return false
		}
		if r.held.CompareAndSwap(h, h-1) {
			return true
		}
	}
}

// errHandedOver ends a lead given up because the relay leads more than
// its share.
var errHandedOver = errors.New("handed over")

// lead publishes the range until the lease is lost (an error), the relay
// leads more than its share (errHandedOver), or ctx is done (nil).
func (r *Relay) lead(ctx context.Context, rng BucketRange, lease Lease) error {
	failures := 0
	lastCheck := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastCheck) >= r.cfg.StandbyInterval {
			if err := lease.Check(ctx); err != nil {
				return err
			}
			if r.release() {
				return errHandedOver
			}
			lastCheck = time.Now()
		}
		n, err := r.publishOnce(ctx, rng)
		switch {
		case err != nil:
			failures++
			delay := min(time.Duration(1<<min(failures, 10))*50*time.Millisecond, r.cfg.MaxBackoff)
			r.log.WithError(err).WithField("range", rng.Index).WithField("retry_in", delay.String()).Warn("relay publish failed")
			sleep(ctx, delay)
		case n == 0:
			failures = 0
			select {
			case <-ctx.Done():
			case <-r.wake[rng.Index]:
			case <-time.After(r.cfg.PollInterval):
			}
		default:
			failures = 0
		}
	}
	return nil
}

// publishOnce publishes one batch and marks what the broker acknowledged.
func (r *Relay) publishOnce(ctx context.Context, rng BucketRange) (int, error) {
	// The batch completes even when shutdown begins, so its outcome is
	// recorded; bounded so a hung broker cannot block shutdown forever.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	recs, err := r.out.PendingOutbox(bctx, rng.Lo, rng.Hi, r.cfg.BatchSize, r.cfg.BatchBytes)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	start := time.Now()
	werr := r.pub.Write(bctx, recs)
	if r.OnPublish != nil {
		r.OnPublish(len(recs), time.Since(start), werr)
	}
	ok := acknowledged(recs, werr)
	if err := r.snapshot(bctx, recs, ok); err != nil {
		// Nothing is marked: the events go out again with the snapshots.
		return len(recs), fmt.Errorf("publish snapshots: %w", err)
	}
	if err := r.out.MarkPublished(bctx, ok); err != nil {
		// The events are on the stream but not marked: they will be
		// published again (at-least-once; consumers dedup on id).
		return len(recs), err
	}
	if werr != nil {
		return len(recs), fmt.Errorf("publish %d events (%d acknowledged): %w", len(recs), len(ok), werr)
	}
	return len(recs), nil
}

// snapshot publishes the latest record of every customer whose events in
// recs were acknowledged (ok).
func (r *Relay) snapshot(ctx context.Context, recs []mapping.OutboxRecord, ok []int64) error {
	if r.Snapshots == nil || len(ok) == 0 {
		return nil
	}
	acked := make(map[int64]bool, len(ok))
	for _, id := range ok {
		acked[id] = true
	}
	var ids []string
	seen := map[string]bool{}
	for _, rec := range recs {
		if acked[rec.ID] && !seen[rec.CustomerID] {
			seen[rec.CustomerID] = true
			ids = append(ids, rec.CustomerID)
		}
	}
	snaps, err := r.Snapshots.Snapshots(ctx, ids)
	if err != nil {
		return err
	}
	return r.Snapshots.WriteSnapshots(ctx, snaps)
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
