package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// justUnderOne is the largest rnd() can return.
var justUnderOne = math.Nextafter(1, 0)

func fixedRnd(v float64) func() float64 { return func() float64 { return v } }

// backoffBound is the documented bound of attempt n:
// min(BackoffMax, BackoffBase × 2^(n-1)), computed without overflow.
func wantBackoffBound(c DeliveryConfig, attempt int) time.Duration {
	b := c.BackoffBase
	for i := 1; i < attempt; i++ {
		if b >= c.BackoffMax {
			return c.BackoffMax
		}
		b *= 2
	}
	return min(b, c.BackoffMax)
}

func TestBackoffDoublesFromFiveSecondsUpToSixHoursWithFullJitter(t *testing.T) {
	c := DefaultDeliveryConfig()
	for _, tc := range []struct {
		attempt int
		bound   time.Duration
	}{
		{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {4, 40 * time.Second}, {5, 80 * time.Second},
		{6, 160 * time.Second}, {7, 320 * time.Second}, {8, 640 * time.Second}, {9, 1280 * time.Second},
		{10, 2560 * time.Second}, {11, 5120 * time.Second}, {12, 10240 * time.Second}, {13, 20480 * time.Second},
		{14, 6 * time.Hour}, {15, 6 * time.Hour}, {20, 6 * time.Hour}, {32, 6 * time.Hour}, {40, 6 * time.Hour},
		{41, 6 * time.Hour}, {63, 6 * time.Hour}, {64, 6 * time.Hour}, {65, 6 * time.Hour}, {100, 6 * time.Hour},
	} {
		attempt, bound := tc.attempt, tc.bound
		t.Run(fmt.Sprintf("attempt %d waits up to %s", attempt, bound), func(t *testing.T) {
			if got := c.backoff(attempt, fixedRnd(justUnderOne)); got > bound || got < bound-bound/1e9-1 {
				t.Errorf("with rnd just under 1: %s, want just under %s", got, bound)
			}
			if got := c.backoff(attempt, fixedRnd(0.5)); got != bound/2 {
				t.Errorf("with rnd 0.5: %s, want %s", got, bound/2)
			}
			if got := c.backoff(attempt, fixedRnd(0)); got != 0 {
				t.Errorf("with rnd 0: %s, want 0 (full jitter)", got)
			}
		})
	}
}

func TestBackoffNeverOverflowsNorShrinksAsAttemptsGrow(t *testing.T) {
	// A grid of the configs Validate allows.
	var cfgs []DeliveryConfig
	for _, base := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, time.Second, 3 * time.Second, 5 * time.Second, 7 * time.Second, time.Minute, time.Hour} {
		for _, maxWait := range []time.Duration{time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
			c := DefaultDeliveryConfig()
			c.BackoffBase, c.BackoffMax = base, maxWait
			if len(c.Validate()) == 0 {
				cfgs = append(cfgs, c)
			}
		}
	}
	// Bases whose doubling overflows int64 nanoseconds before the
	// 40-shift guard, into a positive value under backoff_max.
	for _, bm := range [][2]time.Duration{
		{4295 * time.Millisecond, 7 * 24 * time.Hour},
		{58*time.Minute + 51*time.Second, 7 * 24 * time.Hour},
		{44*time.Minute + 5700*time.Millisecond, 24 * time.Hour},
	} {
		c := DefaultDeliveryConfig()
		c.BackoffBase, c.BackoffMax = bm[0], bm[1]
		if errs := c.Validate(); len(errs) != 0 {
			t.Fatalf("base %s max %s: %v", bm[0], bm[1], errs)
		}
		cfgs = append(cfgs, c)
	}
	for _, c := range cfgs {
		t.Run(fmt.Sprintf("base %s max %s", c.BackoffBase, c.BackoffMax), func(t *testing.T) {
			prev := time.Duration(0)
			for attempt := 1; attempt <= 100; attempt++ {
				got := c.backoff(attempt, fixedRnd(justUnderOne))
				want := wantBackoffBound(c, attempt)
				if got < 0 || got > c.BackoffMax || got < prev || got < want-want/1e9-1 || got > want {
					t.Fatalf("attempt %d waits up to %s (attempt %d: %s), want %s", attempt, got, attempt-1, prev, want)
				}
				prev = got
			}
		})
	}
}

func TestBackoffOfAnAttemptNumberBelowOneDoesNotPanic(t *testing.T) {
	// The store counts attempts from 1; a zero (a row reset by hand, a
	// store bug) must not crash the deliverer with a negative shift.
	c := DefaultDeliveryConfig()
	for _, attempt := range []int{0, -1, math.MinInt} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("backoff(%d) panicked: %v", attempt, p)
				}
			}()
			if got := c.backoff(attempt, fixedRnd(justUnderOne)); got < 0 || got > c.BackoffBase {
				t.Errorf("backoff(%d) = %s, want at most the base %s", attempt, got, c.BackoffBase)
			}
		}()
	}
}

// FuzzBackoff: for any config Validate accepts and any attempt number, the
// wait is within [0, backoff_max], and a later attempt never waits less.
func FuzzBackoff(f *testing.F) {
	d := DefaultDeliveryConfig()
	f.Add(uint64(d.BackoffBase), uint64(d.BackoffMax), uint16(1), 0.5)
	f.Add(uint64(d.BackoffBase), uint64(d.BackoffMax), uint16(100), justUnderOne)
	f.Add(uint64(10*time.Millisecond), uint64(7*24*time.Hour), uint16(40), justUnderOne)
	f.Add(uint64(time.Hour), uint64(time.Hour), uint16(3), 0.25)
	f.Add(uint64(4295*time.Millisecond), uint64(7*24*time.Hour), uint16(31), justUnderOne) // attempt 32 to 33: the doubling overflows
	f.Fuzz(func(t *testing.T, base, maxWait uint64, attempt uint16, r float64) {
		// Fold the inputs into what Validate accepts rather than
		// rejecting most of them.
		fold := func(v, lo, hi uint64) time.Duration {
			if v >= lo && v <= hi {
				return time.Duration(v)
			}
			return time.Duration(lo + v%(hi-lo+1))
		}
		c := DefaultDeliveryConfig()
		c.BackoffBase = fold(base, uint64(10*time.Millisecond), uint64(7*24*time.Hour))
		c.BackoffMax = fold(maxWait, uint64(c.BackoffBase), uint64(7*24*time.Hour))
		if errs := c.Validate(); len(errs) != 0 {
			t.Fatalf("folded config invalid: %v", errs)
		}
		n := 1 + int(attempt)%1000
		if _, r = math.Modf(math.Abs(r)); math.IsNaN(r) {
			r = 0
		}
		got := c.backoff(n, fixedRnd(r))
		if got < 0 || got > c.BackoffMax {
			t.Fatalf("base %s max %s attempt %d rnd %v: %s, want within [0, %s]", c.BackoffBase, c.BackoffMax, n, r, got, c.BackoffMax)
		}
		if this, next := c.backoff(n, fixedRnd(justUnderOne)), c.backoff(n+1, fixedRnd(justUnderOne)); next < this {
			t.Fatalf("base %s max %s: attempt %d waits up to %s, attempt %d only %s", c.BackoffBase, c.BackoffMax, n, this, n+1, next)
		}
	})
}

func TestRetryAfterIsHonouredWithinItsBounds(t *testing.T) {
	c := DefaultDeliveryConfig() // 1s to 1h
	for _, tc := range []struct {
		name       string
		hint, want time.Duration
	}{
		{name: "a hint below the minimum waits the minimum", hint: 10 * time.Millisecond, want: time.Second},
		{name: "a hint at the minimum is kept", hint: time.Second, want: time.Second},
		{name: "a hint within the bounds is kept", hint: 30 * time.Second, want: 30 * time.Second},
		{name: "a hint at the maximum is kept", hint: time.Hour, want: time.Hour},
		{name: "a hint above the maximum waits the maximum", hint: 48 * time.Hour, want: time.Hour},
		{name: "an absurd hint waits the maximum", hint: math.MaxInt64, want: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.retryAfter(tc.hint); got != tc.want {
				t.Fatalf("retryAfter(%s) = %s, want %s", tc.hint, got, tc.want)
			}
		})
	}
}

func TestDeliveryConfigValidate(t *testing.T) {
	allWrong := DeliveryConfig{
		Concurrency: 0, RateLimit: -1, BatchSize: 1001, BackoffBase: time.Millisecond, BackoffMax: 200 * time.Hour,
		MaxAttempts: 101, MaxAge: 30 * time.Second, RetryAfterMin: -time.Second, RetryAfterMax: -2 * time.Second,
		BreakerFailures: 0, BreakerCooldown: 10 * time.Millisecond, Lease: 500 * time.Millisecond,
	}
	for _, tc := range []struct {
		name string
		cfg  DeliveryConfig
		keys []string
	}{
		{name: "the defaults validate clean", cfg: DefaultDeliveryConfig()},
		{name: "a config with every field wrong reports every key at once", cfg: allWrong, keys: []string{
			"concurrency", "rate_limit", "batch_size", "backoff_base", "backoff_max", "max_attempts", "max_age",
			"retry_after_min", "retry_after_max", "breaker_failures", "breaker_cooldown", "lease",
		}},
		{name: "a negative retry_after_min is blamed on itself", cfg: func() DeliveryConfig {
			c := DefaultDeliveryConfig()
			c.RetryAfterMin = -time.Second
			return c
		}(), keys: []string{"retry_after_min"}},
		{name: "a retry_after_max below retry_after_min is blamed on the max", cfg: func() DeliveryConfig {
			c := DefaultDeliveryConfig()
			c.RetryAfterMin, c.RetryAfterMax = time.Hour, time.Minute
			return c
		}(), keys: []string{"retry_after_max"}},
		{name: "a base above the max is blamed on the base", cfg: func() DeliveryConfig {
			c := DefaultDeliveryConfig()
			c.BackoffBase, c.BackoffMax = time.Hour, time.Minute
			return c
		}(), keys: []string{"backoff_base"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			var got []string
			for _, err := range errs {
				key, _, ok := strings.Cut(err.Error(), ": ")
				if !ok {
					t.Errorf("%q is not prefixed by its key", err)
				}
				got = append(got, key)
			}
			if strings.Join(got, ",") != strings.Join(tc.keys, ",") {
				t.Fatalf("Validate() reported keys %v, want %v\n%v", got, tc.keys, errors.Join(errs...))
			}
		})
	}
}

// memStore is the DeliveryStore of the outcome tests: it records
// DisableDestination calls and holds them until released.
type memStore struct {
	DeliveryStore // other methods: not called by outcome

	mu       sync.Mutex
	disabled []string // the reasons given
	// hold, when set, blocks DisableDestination until it is closed.
	hold chan struct{}
	// entered is closed when DisableDestination is first called.
	entered chan struct{}
	once    sync.Once
}

func (s *memStore) DisableDestination(ctx context.Context, dest, reason string, at time.Time) error {
	s.mu.Lock()
	s.disabled = append(s.disabled, dest+": "+reason)
	s.mu.Unlock()
	if s.entered != nil {
		s.once.Do(func() { close(s.entered) })
	}
	if s.hold != nil {
		<-s.hold
	}
	return nil
}

func (s *memStore) disables() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.disabled...)
}

type memMark struct {
	value []byte
	ttl   time.Duration
}

// memMarks are DeliveredMarks in a map.
type memMarks struct {
	mu    sync.Mutex
	marks map[string]memMark
	err   error
}

func (m *memMarks) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.marks[key]
	return v.value, ok, m.err
}

func (m *memMarks) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.marks == nil {
		m.marks = map[string]memMark{}
	}
	m.marks[key] = memMark{value: value, ttl: ttl}
	return nil
}

func (m *memMarks) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.marks)
}

func (m *memMarks) get(key string) (memMark, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.marks[key]
	return v, ok
}

var testNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// newRunner builds the one destination's runner as NewDeliverer does.
func newTestRunner(t *testing.T, cfg DeliveryConfig, store *memStore, marks *memMarks) *destRunner {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	d := NewDeliverer([]Destination{{Name: "crm", Cfg: cfg, MaxBatch: 100}}, store, nil, marks, logrus.NewEntry(log), func() time.Time { return testNow })
	if len(d.dests) != 1 {
		t.Fatalf("%d runners for one destination", len(d.dests))
	}
	return d.dests[0]
}

func testRecord(id int64, attempt int, age time.Duration) mapping.OutboxRecord {
	return mapping.OutboxRecord{ID: id, IdempotencyKey: fmt.Sprintf("crm:%d", id), Attempt: attempt, Time: testNow.Add(-age)}
}

func TestOutcomeDecidesWhatBecomesOfARecord(t *testing.T) {
	boom := errors.New("upstream down")
	cfg := DefaultDeliveryConfig() // 20 attempts, 72h, Retry-After within 1s to 1h
	type want struct {
		status     string
		next       time.Time // zero: none
		nextWithin time.Duration
		httpStatus int
		errHas     string
		marked     bool
		disables   int
	}
	replayed := func(rec mapping.OutboxRecord, replays int) mapping.OutboxRecord {
		rec.Replays = replays
		return rec
	}
	for _, tc := range []struct {
		name string
		rec  mapping.OutboxRecord
		err  error
		want want
	}{
		{name: "a success is delivered and remembered against a resend", rec: testRecord(1, 1, time.Minute), err: nil,
			want: want{status: "delivered", marked: true}},
		{name: "a gone destination is dead and disabled", rec: testRecord(2, 1, time.Minute), err: connectors.Gone(boom),
			want: want{status: "dead", errHas: "upstream down", disables: 1}},
		{name: "a 410 answer is dead with its status", rec: testRecord(3, 1, time.Minute),
			err:  connectors.ClassifyHTTP("deliver", (&resty.Response{RawResponse: &http.Response{StatusCode: 410, Header: http.Header{}}}).SetBody([]byte("gone")), nil),
			want: want{status: "dead", httpStatus: 410, errHas: "HTTP 410: gone", disables: 1}},
		{name: "a permanent error is dead at once", rec: testRecord(4, 1, time.Minute), err: connectors.Permanent(boom),
			want: want{status: "dead", errHas: "upstream down"}},
		{name: "a permanent HTTP answer keeps its status", rec: testRecord(5, 1, time.Minute), err: &connectors.PermanentError{Err: boom, Status: 422},
			want: want{status: "dead", httpStatus: 422, errHas: "upstream down"}},
		{name: "a retryable error with Retry-After 30s is pending 30s from now", rec: testRecord(6, 1, time.Minute), err: &connectors.RetryableError{Err: boom, After: 30 * time.Second, Status: 429},
			want: want{status: "pending", next: testNow.Add(30 * time.Second), httpStatus: 429, errHas: "upstream down"}},
		{name: "a Retry-After above retry_after_max waits the max", rec: testRecord(7, 1, time.Minute), err: connectors.Retryable(boom, 48*time.Hour),
			want: want{status: "pending", next: testNow.Add(time.Hour), errHas: "upstream down"}},
		{name: "a Retry-After below retry_after_min waits the min", rec: testRecord(8, 1, time.Minute), err: connectors.Retryable(boom, time.Millisecond),
			want: want{status: "pending", next: testNow.Add(time.Second), errHas: "upstream down"}},
		{name: "a retryable error without a hint backs off within attempt 3's bound", rec: testRecord(9, 3, time.Minute), err: connectors.Retryable(boom, 0),
			want: want{status: "pending", nextWithin: 20 * time.Second, errHas: "upstream down"}},
		{name: "an unclassified error is retried like a retryable one", rec: testRecord(10, 1, time.Minute), err: boom,
			want: want{status: "pending", nextWithin: 5 * time.Second, errHas: "upstream down"}},
		{name: "a retryable error one attempt before the last is still pending", rec: testRecord(11, cfg.MaxAttempts-1, time.Minute), err: connectors.Retryable(boom, 30*time.Second),
			want: want{status: "pending", next: testNow.Add(30 * time.Second)}},
		{name: "a retryable error at the last attempt gives up", rec: testRecord(12, cfg.MaxAttempts, time.Minute), err: connectors.Retryable(boom, 30*time.Second),
			want: want{status: "dead", errHas: fmt.Sprintf("gave up after %d attempts: upstream down", cfg.MaxAttempts)}},
		{name: "a retryable error past the last attempt gives up", rec: testRecord(13, cfg.MaxAttempts+5, time.Minute), err: connectors.Retryable(boom, 0),
			want: want{status: "dead", errHas: "gave up after"}},
		{name: "a retry that would land past max_age gives up", rec: testRecord(14, 2, cfg.MaxAge-10*time.Second), err: connectors.Retryable(boom, 30*time.Second),
			want: want{status: "dead", errHas: "gave up after 2 attempts"}},
		{name: "a replayed delivery's success is remembered apart from the first one's", rec: replayed(testRecord(16, 1, time.Minute), 2), err: nil,
			want: want{status: "delivered", marked: true}},
		{name: "a replayed delivery past max_age is still retried (a replay has a fresh schedule)", rec: replayed(testRecord(17, 2, cfg.MaxAge+time.Hour), 1), err: connectors.Retryable(boom, 30*time.Second),
			want: want{status: "pending", next: testNow.Add(30 * time.Second)}},
		{name: "a replayed delivery still gives up at its last attempt", rec: replayed(testRecord(18, cfg.MaxAttempts, time.Minute), 1), err: connectors.Retryable(boom, 0),
			want: want{status: "dead", errHas: "gave up after"}},
		{name: "a retry that lands just within max_age is pending", rec: testRecord(15, 2, cfg.MaxAge-time.Minute), err: connectors.Retryable(boom, 30*time.Second),
			want: want{status: "pending", next: testNow.Add(30 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, marks := &memStore{}, &memMarks{}
			r := newTestRunner(t, cfg, store, marks)
			o := r.outcome(context.Background(), tc.rec, tc.err, testNow)
			if o.ID != tc.rec.ID || o.Status != tc.want.status || o.HTTPStatus != tc.want.httpStatus {
				t.Fatalf("outcome %+v, want id %d status %q http status %d", o, tc.rec.ID, tc.want.status, tc.want.httpStatus)
			}
			switch {
			case tc.want.nextWithin > 0:
				if o.Next.Before(testNow) || o.Next.After(testNow.Add(tc.want.nextWithin)) {
					t.Fatalf("next attempt at %s, want within %s of %s", o.Next, tc.want.nextWithin, testNow)
				}
			case !o.Next.Equal(tc.want.next):
				t.Fatalf("next attempt at %s, want %s", o.Next, tc.want.next)
			}
			if !strings.Contains(o.Error, tc.want.errHas) || (tc.err == nil) != (o.Error == "") {
				t.Fatalf("error %q, want it to contain %q", o.Error, tc.want.errHas)
			}
			m, ok := marks.get(markKey(tc.rec))
			if ok != tc.want.marked || (ok && (string(m.value) != "1" || m.ttl != markTTL)) {
				t.Fatalf("memMark %+v set %v, want set %v with a ttl of %s", m, ok, tc.want.marked, markTTL)
			}
			if n := marks.count(); (n == 1) != tc.want.marked {
				t.Fatalf("%d marks set, want 1 only when delivered", n)
			}
			if tc.rec.Replays > 0 {
				if _, first := marks.get(tc.rec.IdempotencyKey); first || markKey(tc.rec) == tc.rec.IdempotencyKey {
					t.Fatalf("a replay is marked under the first delivery's key %q: a later replay would be skipped as a duplicate", tc.rec.IdempotencyKey)
				}
			}
			if got := store.disables(); len(got) != tc.want.disables {
				t.Fatalf("destination disabled %d times (%q), want %d", len(got), got, tc.want.disables)
			}
		})
	}
}

func TestADeliveryWhoseMarkCannotBeSetIsStillDelivered(t *testing.T) {
	marks := &memMarks{err: errors.New("redis down")}
	r := newTestRunner(t, DefaultDeliveryConfig(), &memStore{}, marks)
	if o := r.outcome(context.Background(), testRecord(1, 1, 0), nil, testNow); o.Status != "delivered" || o.Error != "" {
		t.Fatalf("outcome %+v, want delivered", o)
	}
}

func TestAGoneDestinationIsDisabledOnceWhenManyRecordsFindItGone(t *testing.T) {
	const records = 16
	store := &memStore{hold: make(chan struct{}), entered: make(chan struct{})}
	r := newTestRunner(t, DefaultDeliveryConfig(), store, &memMarks{})
	gone := connectors.Gone(errors.New("deliver: HTTP 410: no such hook"))

	start := make(chan struct{})
	results := make(chan DeliveryOutcome, records)
	var wg sync.WaitGroup
	for i := range records {
		wg.Go(func() {
			<-start
			results <- r.outcome(context.Background(), testRecord(int64(i+1), 1, time.Minute), gone, testNow)
		})
	}
	close(start)
	// The first one to see the 410 is telling the store; the others are
	// dead at once, without waiting for it nor telling it again.
	<-store.entered
	for range records - 1 {
		select {
		case o := <-results:
			if o.Status != "dead" {
				t.Errorf("record %d: %+v, want dead", o.ID, o)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("records wait for the destination to be disabled")
		}
	}
	if r.gone.Load() != goneDisabling {
		t.Errorf("while the store is told, the runner's state is %d, want disabling (%d)", r.gone.Load(), goneDisabling)
	}
	close(store.hold)
	wg.Wait()
	if o := <-results; o.Status != "dead" {
		t.Errorf("record %d: %+v, want dead", o.ID, o)
	}
	if r.gone.Load() != goneDisabled {
		t.Errorf("once the store is told, the runner's state is %d, want disabled (%d)", r.gone.Load(), goneDisabled)
	}
	// Later records finding it gone do not tell the store again either.
	_ = r.outcome(context.Background(), testRecord(100, 1, time.Minute), gone, testNow)
	got := store.disables()
	if len(got) != 1 {
		t.Fatalf("DisableDestination called %d times, want once: %q", len(got), got)
	}
	if !strings.HasPrefix(got[0], "crm: ") || !strings.Contains(got[0], "2026-03-14T12:00:00Z") || !strings.Contains(got[0], "no such hook") {
		t.Fatalf("disabled with reason %q, want the destination, the time and the answer", got[0])
	}
}
