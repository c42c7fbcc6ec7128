package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/cyclehub/cyclehub/internal/breaker"
	"github.com/cyclehub/cyclehub/mapping"
)

// ScheduledDelivery is a pending delivery and when it is due (zero: no
// longer pending).
type ScheduledDelivery struct {
	ID int64
	At time.Time
}

// DeliveryOutcome is how an attempt ended: Status delivered, pending
// (retry at Next) or dead.
type DeliveryOutcome struct {
	ID         int64
	Status     string
	Next       time.Time
	Error      string
	HTTPStatus int
}

// DeliveryStore is where deliveries live: PostgreSQL, the truth.
type DeliveryStore interface {
	// PendingDeliveries pages through a destination's pending deliveries
	// (dueBy, when set, keeps those due by then).
	PendingDeliveries(ctx context.Context, dest string, after int64, dueBy time.Time, limit int) ([]ScheduledDelivery, error)
	// ClaimDeliveries claims the due ones of ids for an attempt (a
	// customer's deliveries in order) and says when the others are due.
	ClaimDeliveries(ctx context.Context, dest string, ids []int64, lease time.Duration) ([]mapping.OutboxRecord, []ScheduledDelivery, error)
	FinishDeliveries(ctx context.Context, outcomes []DeliveryOutcome) error
	ReleaseExpiredLeases(ctx context.Context) (int64, error)
	DisableDestination(ctx context.Context, dest, reason string, at time.Time) error
	DestinationDisabled(ctx context.Context, dest string) (string, error)
}

// DeliverySchedule is the schedule (Redis sorted sets), rebuilt from the
// store.
type DeliverySchedule interface {
	// Add schedules deliveries at their times (again: the time changes);
	// Fill only those not scheduled yet (a deferral stays).
	Add(ctx context.Context, dest string, ids []int64, at []time.Time) error
	Fill(ctx context.Context, dest string, ids []int64, at []time.Time) error
	Due(ctx context.Context, dest string, now time.Time, limit int) ([]int64, error)
	Remove(ctx context.Context, dest string, ids []int64) error
}

// DeliveredMarks remember deliveries that succeeded (Redis), so an attempt
// whose outcome was lost (the process died after the destination said
// yes) is not sent twice.
type DeliveredMarks interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Destination is one configured outbound destination.
type Destination struct {
	Name string
	Conn Publisher
	Cfg  DeliveryConfig
	// MaxBatch is the connector's most records per write.
	MaxBatch int
}

// DeliveryStats describes one attempt of a batch (for metrics).
type DeliveryStats struct {
	Destination string
	// Outcomes counts records by outcome: delivered, retry, dead,
	// deferred (breaker open), duplicate (already delivered).
	Outcomes map[string]int
	Took     time.Duration
}

// Deliverer delivers queued events to their destinations, each destination
// on its own: its own schedule, workers, rate limit and circuit breaker,
// so a slow or dead one never delays the others.
type Deliverer struct {
	dests []*destRunner
	store DeliveryStore
	sched DeliverySchedule
	marks DeliveredMarks
	log   *logrus.Entry
	now   func() time.Time
	// PollInterval is how often each destination looks for new deliveries
	// in the store; RebuildInterval how often its whole schedule is
	// rebuilt from the store (a flushed Redis).
	PollInterval, RebuildInterval time.Duration
	// OnAttempt, when set, observes every attempt.
	OnAttempt func(DeliveryStats)
}

// markTTL is how long a success is remembered against a resend.
const markTTL = 7 * 24 * time.Hour

// NewDeliverer returns the engine for the destinations.
func NewDeliverer(dests []Destination, store DeliveryStore, sched DeliverySchedule, marks DeliveredMarks, log *logrus.Entry, now func() time.Time) *Deliverer {
	d := &Deliverer{store: store, sched: sched, marks: marks, log: log, now: now, PollInterval: time.Second, RebuildInterval: 30 * time.Second}
	for _, dest := range dests {
		r := &destRunner{d: d, dest: dest, log: log.WithField("destination", dest.Name),
			breaker: breaker.New(dest.Cfg.BreakerFailures, dest.Cfg.BreakerCooldown),
			sem:     make(chan struct{}, dest.Cfg.Concurrency), wake: make(chan struct{}, 1), filled: make(chan struct{}, 1)}
		r.batch = dest.MaxBatch
		if dest.Cfg.BatchSize > 0 {
			r.batch = min(dest.Cfg.BatchSize, dest.MaxBatch)
		}
		if dest.Cfg.RateLimit > 0 {
			// A burst of one batch: a batch is never refused outright.
			r.limiter = rate.NewLimiter(rate.Limit(dest.Cfg.RateLimit), max(r.batch, int(dest.Cfg.RateLimit)))
		}
		d.dests = append(d.dests, r)
	}
	return d
}

// Wake tells every destination new deliveries may be queued.
func (d *Deliverer) Wake() {
	for _, r := range d.dests {
		r.recheck.Store(true)
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx is done; attempts in flight finish first.
func (d *Deliverer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range d.dests {
		wg.Go(func() {
			if !r.connect(ctx) {
				return
			}
			var inner sync.WaitGroup
			inner.Go(func() { r.feed(ctx) })
			inner.Go(func() { r.dispatch(ctx) })
			inner.Wait()
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if n, err := d.store.ReleaseExpiredLeases(ctx); err != nil && ctx.Err() == nil {
				d.log.WithError(err).Warn("cannot release expired delivery leases")
			} else if n > 0 {
				d.log.WithField("deliveries", n).Warn("deliveries whose attempt never finished are queued again")
				d.Wake()
			}
			sleep(ctx, 5*time.Second)
		}
	})
	wg.Wait()
	return nil
}

// destRunner runs one destination.
type destRunner struct {
	d       *Deliverer
	dest    Destination
	log     *logrus.Entry
	breaker *breaker.Breaker
	limiter *rate.Limiter
	sem     chan struct{}
	wake    chan struct{}
	// filled tells dispatch the schedule was just filled (no need to wait
	// for its next look).
	filled chan struct{}
	batch  int
	// inflight counts attempts running, so dispatch waits for them at
	// shutdown.
	inflight sync.WaitGroup
	// gone moves to goneDisabling the moment an attempt finds the
	// destination gone, so nothing more is sent, and to goneDisabled once
	// the store has been told; dispatch then takes the store's word.
	gone atomic.Int32
	// recheck asks dispatch to read the destination's state now (a replay
	// may have enabled it again).
	recheck atomic.Bool
	// behind holds due deliveries put back because an earlier one of the
	// same customer was in flight; when an attempt of this runner ends
	// they are made due at once rather than at their one-second retry.
	behindMu sync.Mutex
	behind   []int64
}

const (
	goneNone int32 = iota
	goneDisabling
	goneDisabled
)

// connector is a destination's connector when it has a Connect step.
type connector interface {
	Connect(ctx context.Context) error
}

// connect runs the connector's Connect, retrying with backoff while it
// fails (on its own: other destinations go on); false when ctx ends first.
func (r *destRunner) connect(ctx context.Context) bool {
	c, ok := r.dest.Conn.(connector)
	if !ok {
		return true
	}
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := c.Connect(cctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		r.log.WithError(err).WithField("retry_in", delay.String()).Error("destination cannot connect; its deliveries wait")
		sleep(ctx, delay)
	}
}

// feed keeps the schedule filled from the store: deliveries due now on
// every wake and poll, every pending one on each rebuild.
func (r *destRunner) feed(ctx context.Context) {
	lastRebuild := time.Time{}
	for ctx.Err() == nil {
		dueBy := r.d.now()
		if time.Since(lastRebuild) >= r.d.RebuildInterval {
			dueBy, lastRebuild = time.Time{}, time.Now()
		}
		if err := r.schedule(ctx, dueBy); err != nil && ctx.Err() == nil {
			r.log.WithError(err).Warn("cannot fill the delivery schedule")
		} else {
			select {
			case r.filled <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-time.After(r.d.PollInterval):
		}
	}
}

// schedule adds the store's pending deliveries missing from the schedule
// (one already there keeps its time: it may be deferred).
func (r *destRunner) schedule(ctx context.Context, dueBy time.Time) error {
	var after int64
	for {
		page, err := r.d.store.PendingDeliveries(ctx, r.dest.Name, after, dueBy, 1000)
		if err != nil || len(page) == 0 {
			return err
		}
		ids, at := make([]int64, len(page)), make([]time.Time, len(page))
		for i, p := range page {
			ids[i], at[i] = p.ID, p.At
		}
		if err := r.d.sched.Fill(ctx, r.dest.Name, ids, at); err != nil {
			return err
		}
		after = page[len(page)-1].ID
	}
}

// dispatch takes due deliveries off the schedule, claims them and hands
// them to attempts, as many at once as the destination's concurrency.
func (r *destRunner) dispatch(ctx context.Context) {
	defer r.inflight.Wait()
	var disabledChecked time.Time
	disabled := ""
	for ctx.Err() == nil {
		now := r.d.now()
		gone := r.gone.Load()
		if gone == goneDisabling {
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		if gone == goneDisabled || r.recheck.Swap(false) || time.Since(disabledChecked) > 5*time.Second {
			reason, err := r.d.store.DestinationDisabled(ctx, r.dest.Name)
			if err == nil {
				if reason != "" && disabled == "" && gone == goneNone {
					// Not the reason itself: it quotes the destination's
					// answer, which may echo a credential or a person's data.
					r.log.Error("destination disabled: its deliveries wait for a replay (the reason is in /readyz)")
				}
				disabled, disabledChecked = reason, time.Now()
				r.gone.CompareAndSwap(goneDisabled, goneNone)
			}
		}
		if disabled != "" || r.gone.Load() != goneNone {
			sleep(ctx, time.Second)
			continue
		}
		worked, err := r.dispatchOnce(ctx, now)
		if err != nil && ctx.Err() == nil {
			r.log.WithError(err).Warn("delivery dispatch failed")
			sleep(ctx, time.Second)
			continue
		}
		if !worked {
			select {
			case <-ctx.Done():
			case <-r.filled:
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func (r *destRunner) dispatchOnce(ctx context.Context, now time.Time) (bool, error) {
	// A free worker first: due deliveries stay scheduled until one is.
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return false, nil
	}
	release := func() { <-r.sem }
	ids, err := r.d.sched.Due(ctx, r.dest.Name, now, r.batch)
	if err != nil || len(ids) == 0 {
		release()
		return false, err
	}
	// An open breaker defers the deliveries to when it lets a probe
	// through; a deferral is not an attempt.
	if until := r.breaker.OpenUntil(now); !until.IsZero() || !r.breaker.Allow(now) {
		release()
		if until.IsZero() {
			until = now.Add(time.Second) // a probe is in flight
		}
		r.report(map[string]int{"deferred": len(ids)}, 0)
		return true, r.d.sched.Add(ctx, r.dest.Name, ids, repeat(until, len(ids)))
	}
	// The rate limit holds this destination's dispatch (and only its)
	// before anything is claimed, so a claim is never sent over it.
	if r.limiter != nil {
		if err := r.limiter.WaitN(ctx, len(ids)); err != nil {
			r.breaker.Abandon()
			release()
			return false, nil // shutting down
		}
	}
	recs, others, err := r.d.store.ClaimDeliveries(ctx, r.dest.Name, ids, r.dest.Cfg.Lease)
	if err != nil {
		r.breaker.Abandon() // the probe, if any, did not run
		release()
		return false, err
	}
	if err := r.reschedule(ctx, others, now); err != nil {
		r.log.WithError(err).Warn("cannot reschedule deliveries")
	}
	if len(recs) == 0 {
		r.breaker.Abandon()
		release()
		return len(others) > 0, nil
	}
	claimed := make([]int64, len(recs))
	for i, rec := range recs {
		claimed[i] = rec.ID
	}
	if err := r.d.sched.Remove(ctx, r.dest.Name, claimed); err != nil {
		r.log.WithError(err).Warn("cannot unschedule claimed deliveries")
	}
	r.inflight.Add(1)
	go func() {
		defer r.inflight.Done()
		defer release()
		r.attempt(ctx, recs)
	}()
	return true, nil
}

// reschedule puts back deliveries that could not be claimed: waiting
// behind an earlier one of the same customer (a second later, or as soon
// as an attempt of this runner ends: see releaseBehind), not due yet (at
// their time), or no longer pending (off the schedule).
func (r *destRunner) reschedule(ctx context.Context, others []ScheduledDelivery, now time.Time) error {
	var ids, gone, behind []int64
	var at []time.Time
	for _, o := range others {
		switch {
		case o.At.IsZero():
			gone = append(gone, o.ID)
		case !o.At.After(now):
			ids, at = append(ids, o.ID), append(at, now.Add(time.Second))
			behind = append(behind, o.ID)
		default:
			ids, at = append(ids, o.ID), append(at, o.At)
		}
	}
	if len(behind) > 0 {
		r.behindMu.Lock()
		r.behind = append(r.behind, behind...)
		r.behindMu.Unlock()
	}
	return errors.Join(r.d.sched.Add(ctx, r.dest.Name, ids, at), r.d.sched.Remove(ctx, r.dest.Name, gone))
}

// releaseBehind makes the deliveries that waited behind an earlier one due
// now and wakes dispatch: the attempt that just ended may have been the
// one they waited for (a customer's deliveries go in order, one after
// another, without a second's pause between them). One still behind
// another attempt is simply put back again.
func (r *destRunner) releaseBehind(ctx context.Context) {
	r.behindMu.Lock()
	ids := r.behind
	r.behind = nil
	r.behindMu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := r.d.sched.Add(ctx, r.dest.Name, ids, repeat(r.d.now(), len(ids))); err != nil {
		r.log.WithError(err).Debug("cannot release waiting deliveries (they retry in a second)")
		return
	}
	select {
	case r.filled <- struct{}{}:
	default:
	}
}

// attempt sends one batch and records each record's outcome. It runs to
// its end even when shutdown begins, bounded by the lease.
func (r *destRunner) attempt(parent context.Context, recs []mapping.OutboxRecord) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.dest.Cfg.Lease)
	defer cancel()
	start := time.Now()
	outcomes := make([]DeliveryOutcome, len(recs))
	counts := map[string]int{}
	var send []int // indexes of records to send
	for i, rec := range recs {
		if _, ok, err := r.d.marks.Get(ctx, markKey(rec)); err == nil && ok {
			outcomes[i] = DeliveryOutcome{ID: rec.ID, Status: "delivered"}
			counts["duplicate"]++
			continue
		}
		send = append(send, i)
	}
	if len(send) > 0 {
		batch := make([]mapping.OutboxRecord, len(send))
		for j, i := range send {
			batch[j] = recs[i]
		}
		errs := perRecord(r.dest.Conn.Write(ctx, batch), len(batch))
		now := r.d.now()
		responded := false
		for j, i := range send {
			o := r.outcome(ctx, recs[i], errs[j], now)
			outcomes[i] = o
			counts[o.Status]++
			responded = responded || o.Status != "pending"
		}
		r.breaker.Done(responded, now)
	} else {
		r.breaker.Abandon()
	}
	if err := r.d.store.FinishDeliveries(ctx, outcomes); err != nil {
		// The attempt's outcome is lost: the lease runs out and the
		// deliveries are attempted again (successes are marked in Redis).
		r.log.WithError(err).Error("cannot record delivery outcomes")
		return
	}
	var retryIDs []int64
	var retryAt []time.Time
	for _, o := range outcomes {
		if o.Status == "pending" {
			retryIDs, retryAt = append(retryIDs, o.ID), append(retryAt, o.Next)
		}
	}
	if err := r.d.sched.Add(ctx, r.dest.Name, retryIDs, retryAt); err != nil {
		r.log.WithError(err).Warn("cannot schedule retries (the next rebuild will)")
	}
	r.releaseBehind(ctx)
	r.report(counts, time.Since(start))
}

// outcome decides what becomes of one record after an attempt.
func (r *destRunner) outcome(ctx context.Context, rec mapping.OutboxRecord, err error, now time.Time) DeliveryOutcome {
	o := DeliveryOutcome{ID: rec.ID, HTTPStatus: httpStatus(err)}
	if err == nil {
		if merr := r.d.marks.Set(ctx, markKey(rec), []byte("1"), markTTL); merr != nil {
			r.log.WithError(merr).Warn("cannot remember a delivery (a lost outcome could send it again)")
		}
		o.Status = "delivered"
		return o
	}
	o.Error = err.Error()
	var gone interface{ Gone() bool }
	var perm interface{ Permanent() bool }
	switch {
	case errors.As(err, &gone) && gone.Gone():
		o.Status = "dead"
		if r.gone.CompareAndSwap(goneNone, goneDisabling) {
			said := "the destination said it is gone"
			if o.HTTPStatus != 0 {
				said += fmt.Sprintf(" (HTTP %d)", o.HTTPStatus)
			}
			reason := fmt.Sprintf("%s at %s: %s", said, now.UTC().Format(time.RFC3339), err)
			if derr := r.d.store.DisableDestination(ctx, r.dest.Name, reason, now); derr != nil {
				r.log.WithError(derr).Error("cannot disable a gone destination")
			} else {
				// The reason quotes the destination's answer, which may echo
				// a credential or a person's data: it goes to the store (and
				// /readyz), never to the logs.
				r.log.WithField("http_status", o.HTTPStatus).
					Error("destination gone: disabled until its dead letters are replayed (the reason is in /readyz)")
			}
			r.gone.Store(goneDisabled)
		}
		return o
	case errors.As(err, &perm) && perm.Permanent():
		o.Status = "dead"
		return o
	}
	wait := r.dest.Cfg.backoff(rec.Attempt, jitter)
	var hint interface{ RetryAfter() time.Duration }
	if errors.As(err, &hint) && hint.RetryAfter() > 0 {
		wait = r.dest.Cfg.retryAfter(hint.RetryAfter())
	}
	o.Status, o.Next = "pending", now.Add(wait)
	// max_age counts from the event; a replayed delivery has a fresh
	// schedule of max_attempts.
	if rec.Attempt >= r.dest.Cfg.MaxAttempts || (rec.Replays == 0 && o.Next.Sub(rec.Time) > r.dest.Cfg.MaxAge) {
		o.Status, o.Next = "dead", time.Time{}
		o.Error = fmt.Sprintf("gave up after %d attempts: %s", rec.Attempt, err)
		if rec.Attempt < r.dest.Cfg.MaxAttempts {
			o.Error = fmt.Sprintf("gave up after %d attempts (max_age %s reached): %s", rec.Attempt, r.dest.Cfg.MaxAge, err)
		}
	}
	return o
}

func (r *destRunner) report(counts map[string]int, took time.Duration) {
	if r.d.OnAttempt != nil {
		r.d.OnAttempt(DeliveryStats{Destination: r.dest.Name, Outcomes: counts, Took: took})
	}
}

// perRecord spreads a write's result over its n records.
func perRecord(err error, n int) []error {
	out := make([]error, n)
	if err == nil {
		return out
	}
	var re recordErrors
	if errors.As(err, &re) && len(re.RecordErrors()) == n {
		return re.RecordErrors()
	}
	for i := range out {
		out[i] = err
	}
	return out
}

// markKey names a delivery's success mark: an operator's replay of a
// delivered delivery is meant to be sent again, so it has its own.
func markKey(rec mapping.OutboxRecord) string {
	if rec.Replays == 0 {
		return rec.IdempotencyKey
	}
	return fmt.Sprintf("%s#replay%d", rec.IdempotencyKey, rec.Replays)
}

func httpStatus(err error) int {
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	return 0
}

func repeat(t time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t
	}
	return out
}
