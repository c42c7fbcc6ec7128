package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// bucketGuard wraps a relay's publisher and fails the test if two relays
// ever publish events of one bucket at the same time, or a batch spans
// more than one of the relay's ranges.
type bucketGuard struct {
	t        *testing.T
	ranges   []pipeline.BucketRange
	mu       *sync.Mutex
	inFlight map[int16]string // bucket → relay publishing it
	name     string
	pub      pipeline.Publisher
}

func (g bucketGuard) Write(ctx context.Context, batch []mapping.OutboxRecord) error {
	buckets := map[int16]bool{}
	ranges := map[int]bool{}
	for _, rec := range batch {
		b := pgstore.Bucket(rec.CustomerID)
		buckets[b] = true
		for _, r := range g.ranges {
			if int(b) >= r.Lo && int(b) <= r.Hi {
				ranges[r.Index] = true
			}
		}
	}
	if len(ranges) != 1 {
		g.t.Errorf("%s published a batch spanning ranges %v", g.name, ranges)
	}
	g.mu.Lock()
	for b := range buckets {
		if other := g.inFlight[b]; other != "" {
			g.t.Errorf("%s and %s published bucket %d at the same time", g.name, other, b)
		}
		g.inFlight[b] = g.name
	}
	g.mu.Unlock()
	err := g.pub.Write(ctx, batch)
	g.mu.Lock()
	for b := range buckets {
		delete(g.inFlight, b)
	}
	g.mu.Unlock()
	return err
}

// Two relays share the ranges evenly, never publish the same range at
// once, and when one dies the other takes its ranges over at once; the
// stream keeps every customer's events in order.
func TestRelaysShareRangesAndTakeOverWhenOneDies(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	h, _ := newHarness(t, mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form"}}, nil), pipeline.DefaultConfig())
	sinkCfg := kafkasink.DefaultConfig()
	sinkCfg.Brokers, sinkCfg.Topic, sinkCfg.Partitions = brokers, "relays-test", 3
	sink := kafkasink.New(sinkCfg)
	if err := sink.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	cfg := pipeline.DefaultRelayConfig()
	cfg.BatchSize, cfg.PollInterval, cfg.StandbyInterval, cfg.Ranges = 5, 10*time.Millisecond, 100*time.Millisecond, 4
	inFlight, mu := map[int16]string{}, &sync.Mutex{}
	start := func(name string, ranges int) (*pipeline.Relay, context.CancelFunc, chan struct{}) {
		c := cfg
		c.Ranges = ranges
		g := bucketGuard{t: t, ranges: pipeline.Ranges(ranges), mu: mu, inFlight: inFlight, name: name, pub: sink}
		r := pipeline.NewRelay(c, h.st, g, relayLocks{h.st}, quietLog())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = r.Run(ctx); close(done) }()
		return r, cancel, done
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen within 15s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	post := func(round int) {
		for p := range 24 {
			h.postForm(fmt.Sprintf("email=r%d%%40example.com&job_title=t%d", p, round))
		}
	}

	a, stopA, doneA := start("relay A", 4)
	wait("relay A leading every range", func() bool { return a.Leading() == 4 })
	post(0)
	b, stopB, doneB := start("relay B", 4)
	defer func() { stopB(); <-doneB }()
	h.setOnEvents(func() { a.Wake(); b.Wake() })
	for round := 1; round <= 3; round++ {
		post(round)
	}
	wait("an even split", func() bool { return a.Leading() == 2 && b.Leading() == 2 })
	for round := 4; round <= 6; round++ {
		post(round)
	}
	stopA()
	<-doneA
	took := time.Now()
	wait("relay B taking over every range", func() bool { return b.Leading() == 4 })
	t.Logf("takeover after relay A stopped: %s", time.Since(took).Round(time.Millisecond))
	for round := 7; round <= 9; round++ {
		post(round)
	}
	h.settle()
	h.waitFor("all published", `SELECT count(*) FROM outbox WHERE published_at IS NULL`, 0)
	seen := testsvc.CheckStream(t, brokers, "relays-test", h.count(`SELECT count(*) FROM outbox`))
	if len(seen) != 24 {
		t.Fatalf("events for %d customers, want 24", len(seen))
	}
}

// Relays configured with different numbers of ranges never publish at
// once: the newcomer stands by while the running relay leads, and takes
// over once it stops (a rolling change of relay.ranges).
func TestRelaysWithAnotherSplitStandByUntilTheOldOnesStop(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	h, _ := newHarness(t, mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form"}}, nil), pipeline.DefaultConfig())
	sinkCfg := kafkasink.DefaultConfig()
	sinkCfg.Brokers, sinkCfg.Topic, sinkCfg.Partitions = brokers, "resplit-test", 3
	sink := kafkasink.New(sinkCfg)
	if err := sink.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	cfg := pipeline.DefaultRelayConfig()
	cfg.BatchSize, cfg.PollInterval, cfg.StandbyInterval = 5, 10*time.Millisecond, 100*time.Millisecond
	inFlight, mu := map[int16]string{}, &sync.Mutex{}
	start := func(name string, ranges int) (*pipeline.Relay, context.CancelFunc, chan struct{}) {
		c := cfg
		c.Ranges = ranges
		g := bucketGuard{t: t, ranges: pipeline.Ranges(ranges), mu: mu, inFlight: inFlight, name: name, pub: sink}
		r := pipeline.NewRelay(c, h.st, g, relayLocks{h.st}, quietLog())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = r.Run(ctx); close(done) }()
		return r, cancel, done
	}
	post := func(round int) {
		for p := range 16 {
			h.postForm(fmt.Sprintf("email=s%d%%40example.com&job_title=t%d", p, round))
		}
	}
	old, stopOld, doneOld := start("old split (4)", 4)
	deadline := time.Now().Add(15 * time.Second)
	for old.Leading() != 4 {
		if time.Now().After(deadline) {
			t.Fatal("the first relay never led its 4 ranges")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resplit, stopNew, doneNew := start("new split (8)", 8)
	defer func() { stopNew(); <-doneNew }()
	h.setOnEvents(func() { old.Wake(); resplit.Wake() })
	for round := range 3 {
		post(round)
		time.Sleep(200 * time.Millisecond)
		if n := resplit.Leading(); n != 0 {
			t.Fatalf("the relay with another split leads %d ranges while the old one runs", n)
		}
	}
	stopOld()
	<-doneOld
	for resplit.Leading() != 8 {
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatalf("the new split leads %d of 8 ranges after the old relay stopped", resplit.Leading())
		}
		time.Sleep(10 * time.Millisecond)
	}
	post(3)
	h.settle()
	h.waitFor("all published", `SELECT count(*) FROM outbox WHERE published_at IS NULL`, 0)
	testsvc.CheckStream(t, brokers, "resplit-test", h.count(`SELECT count(*) FROM outbox`))
}
