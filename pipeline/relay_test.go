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

// rangeGuard wraps a relay's publisher and fails the test if two relays
// ever publish the same bucket range at the same time.
type rangeGuard struct {
	t        *testing.T
	ranges   []pipeline.BucketRange
	mu       *sync.Mutex
	inFlight map[int]string // range index → relay publishing it
	name     string
	pub      pipeline.Publisher
}

func (g rangeGuard) rangeOf(customerID string) int {
	b := int(pgstore.Bucket(customerID))
	for _, r := range g.ranges {
		if b >= r.Lo && b <= r.Hi {
			return r.Index
		}
	}
	g.t.Errorf("bucket %d is in no range", b)
	return -1
}

func (g rangeGuard) Write(ctx context.Context, batch []mapping.OutboxRecord) error {
	touched := map[int]bool{}
	for _, rec := range batch {
		touched[g.rangeOf(rec.CustomerID)] = true
	}
	if len(touched) != 1 {
		g.t.Errorf("%s published a batch spanning ranges %v", g.name, touched)
	}
	g.mu.Lock()
	for i := range touched {
		if other := g.inFlight[i]; other != "" {
			g.t.Errorf("%s and %s published range %d at the same time", g.name, other, i)
		}
		g.inFlight[i] = g.name
	}
	g.mu.Unlock()
	err := g.pub.Write(ctx, batch)
	g.mu.Lock()
	for i := range touched {
		delete(g.inFlight, i)
	}
	g.mu.Unlock()
	return err
}

// Two relays share the ranges evenly, never publish the same range at
// once, and when one dies the other takes its ranges over at once; the
// stream keeps every customer's events in order.
func TestRelaysShareRangesAndTakeOverWhenOneDies(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	h, workers := newHarness(t, mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form"}}, nil), pipeline.DefaultConfig())
	sinkCfg := kafkasink.DefaultConfig()
	sinkCfg.Brokers, sinkCfg.Topic, sinkCfg.Partitions = brokers, "relays-test", 3
	sink := kafkasink.New(sinkCfg)
	if err := sink.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	cfg := pipeline.DefaultRelayConfig()
	cfg.BatchSize, cfg.PollInterval, cfg.StandbyInterval, cfg.Ranges = 5, 10*time.Millisecond, 100*time.Millisecond, 4
	guard := rangeGuard{t: t, ranges: pipeline.Ranges(cfg.Ranges), mu: &sync.Mutex{}, inFlight: map[int]string{}}
	start := func(name string) (*pipeline.Relay, context.CancelFunc, chan struct{}) {
		g := guard
		g.name, g.pub = name, sink
		r := pipeline.NewRelay(cfg, h.st, g, relayLocks{h.st}, quietLog())
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

	a, stopA, doneA := start("relay A")
	wait("relay A leading every range", func() bool { return a.Leading() == 4 })
	post(0)
	b, stopB, doneB := start("relay B")
	defer func() { stopB(); <-doneB }()
	workers.OnEvents = func() { a.Wake(); b.Wake() }
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
