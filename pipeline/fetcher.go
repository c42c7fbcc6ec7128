package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
)

// FetchConfig tunes the fetcher: the stage that completes id-only webhooks
// (Meta leads, HubSpot contacts, …) with the provider's API before they
// are mapped.
type FetchConfig struct {
	// Concurrency is the number of requests fetched at once.
	Concurrency int `yaml:"concurrency"`
	// BatchSize caps the requests leased per claim; more than Concurrency
	// only makes leases wait in line.
	BatchSize int `yaml:"batch_size"`
	// Lease is how long a claimed request is the claimer's; a fetcher that
	// dies leaves it to be claimed again after this.
	Lease time.Duration `yaml:"lease"`
	// PollInterval is how often an idle fetcher looks for work.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxAttempts bounds the attempts of a request whose fetch keeps
	// failing before it is quarantined (replayable).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxBackoff caps the wait between attempts.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// DefaultFetchConfig returns the defaults documented in the README: with
// 20 attempts backing off from 10 s (doubling) to at most 2 h apart, a
// failing fetch is retried for about 21 hours before quarantine,
// about as long as providers keep a webhook's ids fetchable.
func DefaultFetchConfig() FetchConfig {
	return FetchConfig{Concurrency: 8, BatchSize: 8, Lease: 2 * time.Minute, PollInterval: 500 * time.Millisecond,
		MaxAttempts: 20, MaxBackoff: 2 * time.Hour}
}

// Validate reports every problem with c, each prefixed by its key.
func (c FetchConfig) Validate() []error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("concurrency: must be between 1 and 256, got %d", c.Concurrency))
	}
	if c.BatchSize < 1 || c.BatchSize > 1000 {
		errs = append(errs, fmt.Errorf("batch_size: must be between 1 and 1000, got %d", c.BatchSize))
	}
	if c.Lease < 10*time.Second {
		errs = append(errs, fmt.Errorf("lease: must be at least 10s, got %s", c.Lease))
	}
	if c.PollInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("poll_interval: must be at least 10ms, got %s", c.PollInterval))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max_attempts: must be at least 1, got %d", c.MaxAttempts))
	}
	if c.MaxBackoff < time.Second {
		errs = append(errs, fmt.Errorf("max_backoff: must be at least 1s, got %s", c.MaxBackoff))
	}
	return errs
}

// FetchQueue is where requests wait for their API documents.
type FetchQueue interface {
	// ClaimFetches leases up to limit waiting requests for lease.
	ClaimFetches(ctx context.Context, limit int, lease time.Duration) ([]*mapping.RawRequest, error)
	// SaveFetched stores the documents and hands the request to the pipeline.
	SaveFetched(ctx context.Context, id int64, fetched mapping.Fetched) error
	// RetryFetch counts a failed attempt and schedules the next.
	RetryFetch(ctx context.Context, id int64, reason string, notBefore time.Time) error
	// QuarantineFetch sets the request aside with the reason.
	QuarantineFetch(ctx context.Context, id int64, reason string) error
}

// FetchPlanner says which API call a request needs next (mapping.Mapper).
type FetchPlanner interface {
	NextFetch(req *mapping.RawRequest, fetched mapping.Fetched) (*mapping.FetchRequest, error)
}

// ProviderAPI performs one call for a request of source.
type ProviderAPI interface {
	Fetch(ctx context.Context, source string, f *mapping.FetchRequest) (json.RawMessage, error)
}

// notFound is implemented by errors saying the document does not exist.
type notFound interface{ NotFound() bool }

// retryAfter is implemented by errors carrying the provider's wait.
type retryAfter interface{ RetryAfter() time.Duration }

// FetchStats describes one request's fetch (for metrics).
type FetchStats struct {
	Calls   int
	Outcome string // fetched, retry, quarantined
	Took    time.Duration
}

// Fetcher completes id-only requests: it leases them from the queue,
// calls the provider's API as their mapping says (each request on its own,
// so a failing or slow provider never holds up the others), and stores the
// documents for the pipeline, or schedules a retry, or quarantines.
type Fetcher struct {
	cfg     FetchConfig
	queue   FetchQueue
	planner FetchPlanner
	api     ProviderAPI
	log     *logrus.Entry
	now     func() time.Time
	wake    chan struct{}
	// OnFetched, when set, is called after documents are stored (the
	// pipeline's wake-up).
	OnFetched func()
	// OnFetch, when set, observes every request's fetch.
	OnFetch func(source string, s FetchStats)
}

// NewFetcher returns the fetcher. now is the clock.
func NewFetcher(cfg FetchConfig, queue FetchQueue, planner FetchPlanner, api ProviderAPI, log *logrus.Entry, now func() time.Time) *Fetcher {
	return &Fetcher{cfg: cfg, queue: queue, planner: planner, api: api, log: log, now: now, wake: make(chan struct{}, 1)}
}

// Wake tells an idle fetcher that new requests are stored. It never blocks.
func (f *Fetcher) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run fetches until ctx is done; fetches in flight are abandoned (their
// lease runs out and they are claimed again).
func (f *Fetcher) Run(ctx context.Context) error {
	work := make(chan *mapping.RawRequest)
	var wg sync.WaitGroup
	for range f.cfg.Concurrency {
		wg.Go(func() {
			for req := range work {
				f.fetchOne(ctx, req)
			}
		})
	}
	defer wg.Wait()
	defer close(work)
	failures := 0
	for ctx.Err() == nil {
		reqs, err := f.queue.ClaimFetches(ctx, f.cfg.BatchSize, f.cfg.Lease)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			delay := min(time.Duration(failures)*200*time.Millisecond, 5*time.Second)
			f.log.WithError(err).WithField("retry_in", delay.String()).Warn("fetch queue unavailable")
			sleep(ctx, delay)
			continue
		}
		failures = 0
		for _, req := range reqs {
			select {
			case work <- req:
			case <-ctx.Done():
				return nil
			}
		}
		if len(reqs) < f.cfg.BatchSize {
			select {
			case <-ctx.Done():
			case <-f.wake:
			case <-time.After(f.cfg.PollInterval):
			}
		}
	}
	return nil
}

// fetchOne performs every call req needs and records the outcome.
func (f *Fetcher) fetchOne(ctx context.Context, req *mapping.RawRequest) {
	start := time.Now()
	log := f.log.WithFields(logrus.Fields{"inbox_id": req.ID, "source": req.Source})
	fetched, calls, err := f.collect(ctx, req)
	outcome := "fetched"
	// The outcome is written even when shutdown has begun.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var werr error
	switch {
	case err == nil:
		werr = f.queue.SaveFetched(wctx, req.ID, fetched)
		if werr == nil && f.OnFetched != nil {
			f.OnFetched()
		}
	case ctx.Err() != nil:
		return // shutting down: the lease runs out and it is fetched again
	case isPermanent(err) || req.Attempts+1 >= f.cfg.MaxAttempts:
		outcome = "quarantined"
		reason := err.Error()
		if !isPermanent(err) {
			reason = fmt.Sprintf("%s (gave up after %d attempts)", reason, req.Attempts+1)
		}
		log.WithError(err).Warn("request quarantined: its documents cannot be fetched")
		werr = f.queue.QuarantineFetch(wctx, req.ID, reason)
	default:
		outcome = "retry"
		delay := f.backoff(req.Attempts)
		var ra retryAfter
		if errors.As(err, &ra) && ra.RetryAfter() > delay {
			delay = min(ra.RetryAfter(), f.cfg.MaxBackoff)
		}
		log.WithError(err).WithField("retry_in", delay.String()).Info("fetch failed; will retry")
		werr = f.queue.RetryFetch(wctx, req.ID, err.Error(), f.now().Add(delay))
	}
	if werr != nil {
		// The lease runs out and the request is fetched again.
		log.WithError(werr).Warn("could not record a fetch outcome")
	}
	if f.OnFetch != nil {
		f.OnFetch(req.Source, FetchStats{Calls: calls, Outcome: outcome, Took: time.Since(start)})
	}
}

// collect runs the request's calls in the order its mapping asks for them.
// A call made twice for one request (two events about one contact) is
// made once.
func (f *Fetcher) collect(ctx context.Context, req *mapping.RawRequest) (fetched mapping.Fetched, calls int, err error) {
	defer func() {
		if r := recover(); r != nil {
			f.log.WithField("inbox_id", req.ID).WithField("stack", string(debug.Stack())).Error("fetch planning panicked")
			err = &mappingPanic{value: r}
		}
	}()
	fetched = mapping.Fetched{}
	byPath := map[string]json.RawMessage{}
	for {
		next, err := f.planner.NextFetch(req, fetched)
		if err != nil {
			return nil, calls, err
		}
		if next == nil {
			return fetched, calls, nil
		}
		doc, seen := byPath[next.Path]
		if !seen {
			calls++
			doc, err = f.api.Fetch(ctx, req.Source, next)
			var nf notFound
			switch {
			case err != nil && next.Optional && errors.As(err, &nf) && nf.NotFound():
				doc = json.RawMessage("null")
			case err != nil:
				return nil, calls, err
			}
			byPath[next.Path] = doc
		}
		if fetched[next.Record] == nil {
			fetched[next.Record] = map[string]json.RawMessage{}
		}
		fetched[next.Record][next.Name] = doc
	}
}

// backoff is the wait before attempt+1: 10 s doubling, capped.
func (f *Fetcher) backoff(attempt int) time.Duration {
	d := 10 * time.Second
	for range min(attempt, 20) {
		d *= 2
	}
	return min(d, f.cfg.MaxBackoff)
}

func isPermanent(err error) bool {
	var p permanent
	if errors.As(err, &p) && p.Permanent() {
		return true
	}
	// Mapping errors (an id missing from the request) never heal by waiting.
	var u *mapping.UnmappableError
	var m *mapping.MalformedError
	return errors.As(err, &u) || errors.As(err, &m)
}
