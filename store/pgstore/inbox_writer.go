package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// ErrWriterClosed is returned by Append after the writer has stopped.
var ErrWriterClosed = errors.New("inbox writer is closed")

// OverloadedError is returned by Append when the request waited longer
// than max_wait for a place in a commit: nothing was written, and the
// sender should come back after RetryAfter. Shedding at the door keeps the
// ack time of the requests that are taken bounded, instead of letting
// every ack grow with the queue until senders time out and retry anyway.
type OverloadedError struct {
	Waited time.Duration
	After  time.Duration
}

func (e *OverloadedError) Error() string {
	return fmt.Sprintf("inbox overloaded: no commit within %s", e.Waited.Round(time.Millisecond))
}

// Temporary reports that a retry may succeed.
func (e *OverloadedError) Temporary() bool { return true }

// RetryAfter is the wait suggested to the sender.
func (e *OverloadedError) RetryAfter() time.Duration { return e.After }

// Append status values (the inbox status a request is stored with).
const (
	StatusPending  = "pending"
	StatusRejected = "rejected"
)

// InboxWriterConfig tunes group commit.
type InboxWriterConfig struct {
	// MaxBatch caps how many requests share one transaction.
	MaxBatch int `yaml:"max_batch"`
	// Flushers is how many transactions may be in flight at once. While
	// they are busy, new requests queue and join the next batch: that is
	// where group commit's throughput comes from.
	Flushers int `yaml:"flushers"`
	// MaxWait bounds how long a pending request may wait for a place in a
	// commit (queued, not yet written). Past it the request is shed with
	// an OverloadedError (the sender gets 503 and Retry-After) and nothing
	// is written. Rejected requests kept for inspection never expire.
	// Zero waits without bound.
	MaxWait time.Duration `yaml:"max_wait"`
}

// DefaultInboxWriterConfig returns the defaults documented in the README.
func DefaultInboxWriterConfig() InboxWriterConfig {
	return InboxWriterConfig{MaxBatch: 512, Flushers: 4, MaxWait: 2 * time.Second}
}

// Validate reports every problem with c, each prefixed by its key.
func (c InboxWriterConfig) Validate() []error {
	var errs []error
	if c.MaxBatch < 1 || c.MaxBatch > 10000 {
		errs = append(errs, fmt.Errorf("max_batch: must be between 1 and 10000, got %d", c.MaxBatch))
	}
	if c.Flushers < 1 || c.Flushers > 64 {
		errs = append(errs, fmt.Errorf("flushers: must be between 1 and 64, got %d", c.Flushers))
	}
	if c.MaxWait != 0 && (c.MaxWait < 10*time.Millisecond || c.MaxWait > time.Minute) {
		errs = append(errs, fmt.Errorf("max_wait: must be 0 (no bound) or between 10ms and 1m, got %s", c.MaxWait))
	}
	return errs
}

// InboxWriter makes raw requests durable with group commit: concurrent
// Appends are gathered into one multi-row INSERT and one commit, and each
// caller returns only after that commit. A request is therefore acked only
// when it is on disk, and the cost of the commit is shared.
type InboxWriter struct {
	store   *Store
	cfg     InboxWriterConfig
	queue   chan *appendReq
	stopped chan struct{}
	// mu guards closed: Append sends while holding it for reading, so once
	// Run holds it for writing no send is in progress and none will start.
	mu     sync.RWMutex
	closed bool
	// OnCommit, when set, is called after every commit that stored pending
	// requests (the pipeline's wake-up).
	OnCommit func()
	// OnBatch, when set, observes each flush: its size, duration and error.
	OnBatch func(size int, took time.Duration, err error)
}

type appendReq struct {
	raw    *mapping.RawRequest
	status string
	reason string
	// deadline is when a pending request is shed instead of written (zero:
	// never).
	deadline time.Time
	done     chan appendResp
}

type appendResp struct {
	duplicate bool
	err       error
}

// NewInboxWriter returns a writer; Run must be running for Append to return.
func (s *Store) NewInboxWriter(cfg InboxWriterConfig) *InboxWriter {
	return &InboxWriter{
		store:   s,
		cfg:     cfg,
		queue:   make(chan *appendReq, cfg.MaxBatch*cfg.Flushers),
		stopped: make(chan struct{}),
	}
}

// Append stores raw as a pending request and returns once it is committed.
// duplicate is true when a request with the same source and dedup key was
// already stored: nothing was written.
func (w *InboxWriter) Append(ctx context.Context, raw *mapping.RawRequest) (duplicate bool, err error) {
	return w.append(ctx, raw, StatusPending, "")
}

// Reject stores raw as rejected at the edge (malformed), with the reason,
// so it can be inspected; it is never processed.
func (w *InboxWriter) Reject(ctx context.Context, raw *mapping.RawRequest, reason string) error {
	_, err := w.append(ctx, raw, StatusRejected, reason)
	return err
}

func (w *InboxWriter) append(ctx context.Context, raw *mapping.RawRequest, status, reason string) (bool, error) {
	req := &appendReq{raw: raw, status: status, reason: reason, done: make(chan appendResp, 1)}
	var expired <-chan time.Time
	if status == StatusPending && w.cfg.MaxWait > 0 {
		req.deadline = time.Now().Add(w.cfg.MaxWait)
		t := time.NewTimer(w.cfg.MaxWait)
		defer t.Stop()
		expired = t.C
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return false, ErrWriterClosed
	}
	select {
	case w.queue <- req:
		w.mu.RUnlock()
	case <-expired:
		w.mu.RUnlock()
		return false, w.overloaded()
	case <-ctx.Done():
		w.mu.RUnlock()
		return false, ctx.Err()
	}
	// Once queued the request will be flushed; wait for the verdict even if
	// the caller gives up, so a commit is never reported as a failure.
	r := <-req.done
	return r.duplicate, r.err
}

// Run flushes batches until ctx is done, then flushes what is queued and
// returns. Callers must stop calling Append before cancelling ctx.
func (w *InboxWriter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.cfg.Flushers {
		wg.Go(func() { w.flushLoop(ctx) })
	}
	wg.Wait()
	// Refuse new appends; meanwhile keep flushing so that senders blocked
	// on a full queue finish and release the lock.
	go func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stopped)
	}()
	final := context.WithoutCancel(ctx)
	for {
		select {
		case r := <-w.queue:
			w.flush(final, w.gather(r))
		case <-w.stopped:
			for {
				select {
				case r := <-w.queue:
					w.flush(final, w.gather(r))
				default:
					return nil
				}
			}
		}
	}
}

func (w *InboxWriter) flushLoop(ctx context.Context) {
	for {
		select {
		case first := <-w.queue:
			// Flushes finish even during shutdown: the callers are waiting.
			w.flush(context.WithoutCancel(ctx), w.gather(first))
		case <-ctx.Done():
			return
		}
	}
}

// gather takes first plus whatever else is already queued, up to MaxBatch.
func (w *InboxWriter) gather(first *appendReq) []*appendReq {
	batch := []*appendReq{first}
	for len(batch) < w.cfg.MaxBatch {
		select {
		case r := <-w.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

const insertInboxSQL = `
INSERT INTO inbox (request_id, source, provider, method, path, query, headers, body,
                   received_at, dedup_key, status, reason, needs_fetch)
SELECT r.request_id, r.source, r.provider, r.method, r.path, r.query, r.headers::jsonb, r.body,
       r.received_at, NULLIF(r.dedup_key, ''), r.status, NULLIF(r.reason, ''), r.needs_fetch
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::bytea[], $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::boolean[], $14::text[])
     AS r(request_id, source, provider, method, path, query, headers, body,
          received_at, dedup_key, status, reason, needs_fetch, prior_key)
-- The same content stored in the previous dedup window is a duplicate too.
WHERE r.prior_key = '' OR NOT EXISTS (
    SELECT 1 FROM inbox x WHERE x.source = r.source AND x.dedup_key = r.prior_key)
ON CONFLICT (source, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
RETURNING request_id::text`

func (w *InboxWriter) overloaded() *OverloadedError {
	return &OverloadedError{Waited: w.cfg.MaxWait, After: max(time.Second, w.cfg.MaxWait.Round(time.Second))}
}

// shed answers the requests in batch that are past their deadline and
// returns the rest.
func (w *InboxWriter) shed(batch []*appendReq, now time.Time) []*appendReq {
	kept := batch[:0]
	for _, r := range batch {
		if !r.deadline.IsZero() && now.After(r.deadline) {
			r.done <- appendResp{err: w.overloaded()}
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

func (w *InboxWriter) flush(ctx context.Context, batch []*appendReq) {
	start := time.Now()
	if batch = w.shed(batch, start); len(batch) == 0 {
		return
	}
	n := len(batch)
	var (
		ids, sources, providers, methods, paths, queries, headers = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		bodies                                                    = make([][]byte, n)
		received                                                  = make([]time.Time, n)
		dedups, statuses, reasons                                 = make([]string, n), make([]string, n), make([]string, n)
		fetch                                                     = make([]bool, n)
		priors                                                    = make([]string, n)
	)
	pending := false
	for i, r := range batch {
		h, err := json.Marshal(r.raw.Headers)
		if err != nil {
			h = []byte("{}")
		}
		ids[i], sources[i], providers[i] = r.raw.RequestID, r.raw.Source, r.raw.Provider
		methods[i], paths[i], queries[i], headers[i] = r.raw.Method, r.raw.Path, r.raw.Query, string(h)
		bodies[i], received[i], dedups[i] = r.raw.Body, r.raw.ReceivedAt, r.raw.DedupKey
		statuses[i], reasons[i], fetch[i], priors[i] = r.status, r.reason, r.raw.NeedsFetch, r.raw.PriorDedupKey
		if bodies[i] == nil {
			bodies[i] = []byte{}
		}
		pending = pending || r.status == StatusPending
	}
	inserted := make(map[string]bool, n)
	err := func() error {
		rows, err := w.store.pool.Query(ctx, insertInboxSQL, ids, sources, providers, methods, paths,
			queries, headers, bodies, received, dedups, statuses, reasons, fetch, priors)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inserted[id] = true
		}
		return rows.Err()
	}()
	if w.OnBatch != nil {
		w.OnBatch(n, time.Since(start), err)
	}
	if err != nil {
		err = fmt.Errorf("store %d requests in the inbox: %w", n, err)
	}
	for _, r := range batch {
		r.done <- appendResp{duplicate: err == nil && !inserted[r.raw.RequestID], err: err}
	}
	if err == nil && pending && w.OnCommit != nil {
		w.OnCommit()
	}
}
