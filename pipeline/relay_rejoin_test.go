package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
)

// flakyLocks is one relay's view of PostgreSQL's advisory locks. stop
// drops every session and refuses every call, as a stopped PostgreSQL
// does; after start, leases taken before still fail their Check (their
// sessions are gone) and new ones work.
type flakyLocks struct {
	mu    sync.Mutex
	down  bool
	epoch int
	held  map[int]bool // range → led (this relay is alone)
	joins atomic.Int64
}

type flakyLease struct {
	l     *flakyLocks
	epoch int
	rng   int // -1: the membership
}

func (f *flakyLease) Check(context.Context) error {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	if f.l.down || f.epoch != f.l.epoch {
		return errors.New("connection lost")
	}
	return nil
}

func (f *flakyLease) Release(context.Context) {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	if f.rng >= 0 && f.epoch == f.l.epoch {
		delete(f.l.held, f.rng)
	}
}

func (f *flakyLocks) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = true
	f.epoch++
	clear(f.held)
}

func (f *flakyLocks) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = false
}

var errDown = errors.New("connection refused")

func (f *flakyLocks) Join(context.Context, int) (pipeline.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	f.joins.Add(1)
	return &flakyLease{l: f, epoch: f.epoch, rng: -1}, nil
}

func (f *flakyLocks) Members(context.Context) ([]pipeline.RelayMember, []int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, nil, errDown
	}
	var leading []int
	for range f.held {
		leading = append(leading, 4)
	}
	return []pipeline.RelayMember{{Slot: 0, Ranges: 4}}, leading, nil
}

func (f *flakyLocks) AcquireRange(_ context.Context, _ int, index int) (pipeline.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if f.held[index] {
		return nil, errors.New("held")
	}
	f.held[index] = true
	return &flakyLease{l: f, epoch: f.epoch, rng: index}, nil
}

type emptyOutbox struct{}

func (emptyOutbox) PendingOutbox(context.Context, int, int, int, int) ([]mapping.OutboxRecord, error) {
	return nil, nil
}
func (emptyOutbox) MarkPublished(context.Context, []int64) error { return nil }

type nopPublisher struct{}

func (nopPublisher) Write(context.Context, []mapping.OutboxRecord) error { return nil }

// A PostgreSQL restart drops every advisory lock with its session, the
// relay's membership included: once PostgreSQL is back the relay
// registers again and leads its ranges again, instead of publishing
// nothing until the daemon is restarted.
func TestARelayLeadsAgainAfterItsLocksDiedWithTheirSessions(t *testing.T) {
	cfg := pipeline.DefaultRelayConfig()
	cfg.Ranges, cfg.StandbyInterval, cfg.PollInterval = 4, 50*time.Millisecond, 10*time.Millisecond
	locks := &flakyLocks{held: map[int]bool{}}
	r := pipeline.NewRelay(cfg, emptyOutbox{}, nopPublisher{}, locks, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	wait := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); r.Leading() != 4; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the relay leads %d of 4 ranges after 5s", what, r.Leading())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("at start")
	locks.stop()
	time.Sleep(10 * cfg.StandbyInterval) // PostgreSQL is down a while
	locks.start()
	wait("after PostgreSQL came back")
	if n := locks.joins.Load(); n < 2 {
		t.Errorf("the relay registered %d times, want again after the restart", n)
	}
}
