package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// Features describes the connector under test.
type Features struct {
	// New builds a connector writing to a fresh fake destination.
	New func(t *testing.T) (connectors.Connector, Destination)
	// MaxBatch is the most records one Write takes (1: one per request,
	// no partial batches).
	MaxBatch int
	// Records builds n records the connector accepts (nil: stage changes
	// of new customers, with contacts).
	Records func(n int) []mapping.OutboxRecord
}

// Run runs the conformance suite.
func Run(t *testing.T, f Features) {
	if f.Records == nil {
		f.Records = Records
	}
	ctx := context.Background()
	connected := func(t *testing.T) (connectors.Connector, Destination) {
		t.Helper()
		c, d := f.New(t)
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { _ = c.Close(ctx) })
		return c, d
	}
	batch := func(recs []mapping.OutboxRecord) [][]mapping.OutboxRecord {
		var out [][]mapping.OutboxRecord
		for len(recs) > 0 {
			n := min(len(recs), f.MaxBatch)
			out, recs = append(out, recs[:n]), recs[n:]
		}
		return out
	}
	ids := func(recs []mapping.OutboxRecord) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.EventID)
		}
		return out
	}

	t.Run("it opens and closes, with or without writes", func(t *testing.T) {
		c, _ := f.New(t)
		if err := c.Connect(ctx); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatalf("Close after no write: %v", err)
		}
	})

	t.Run("every record of a batch is delivered", func(t *testing.T) {
		c, d := connected(t)
		recs := f.Records(3 * f.MaxBatch)
		for _, b := range batch(recs) {
			if err := c.Write(ctx, b); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		if got := d.Accepted(); !slices.Equal(got, ids(recs)) {
			t.Fatalf("accepted %v, want %v", got, ids(recs))
		}
	})

	t.Run("a retryable failure is classified so and a retry succeeds", func(t *testing.T) {
		c, d := connected(t)
		recs := f.Records(1)
		d.FailNext(1, Retryable)
		err := c.Write(ctx, recs)
		if o, _ := connectors.Classify(recordErr(err, 0)); o != connectors.Retry {
			t.Fatalf("a 503 answer gave %v (%v), want retry", o, err)
		}
		if err := c.Write(ctx, recs); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		if got := d.Accepted(); !slices.Equal(got, ids(recs)) {
			t.Fatalf("accepted %v", got)
		}
	})

	t.Run("a permanent failure is classified so", func(t *testing.T) {
		c, d := connected(t)
		d.FailNext(1, Permanent)
		err := c.Write(ctx, f.Records(1))
		if o, _ := connectors.Classify(recordErr(err, 0)); o != connectors.Dead {
			t.Fatalf("a 400 answer gave %v (%v), want dead", o, err)
		}
		if len(d.Accepted()) != 0 {
			t.Fatal("a refused record counts as accepted")
		}
	})

	t.Run("a partial batch failure is reported record by record", func(t *testing.T) {
		if f.MaxBatch < 2 {
			t.Skip("one record per request: no partial batches")
		}
		c, d := connected(t)
		recs := f.Records(3)
		d.FailEvent(recs[1].EventID, Permanent)
		err := c.Write(ctx, recs)
		var be *connectors.BatchError
		if !errors.As(err, &be) || len(be.RecordErrors()) != 3 {
			t.Fatalf("Write = %v, want a BatchError for 3 records", err)
		}
		errs := be.RecordErrors()
		if o, _ := connectors.Classify(errs[1]); errs[0] != nil || errs[2] != nil || o != connectors.Dead {
			t.Fatalf("record errors %v", errs)
		}
		if got := d.Accepted(); !slices.Equal(got, []string{recs[0].EventID, recs[2].EventID}) {
			t.Fatalf("accepted %v", got)
		}
	})

	t.Run("a write canceled mid-flight returns at once as retryable", func(t *testing.T) {
		c, d := connected(t)
		release := make(chan struct{})
		defer close(release)
		d.Hang(release)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		done := make(chan error, 1)
		go func() { done <- c.Write(cctx, f.Records(1)) }()
		select {
		case err := <-done:
			if o, _ := connectors.Classify(recordErr(err, 0)); err == nil || o != connectors.Retry {
				t.Fatalf("a canceled write gave %v (%v), want a retryable error", o, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Write did not return within 5s of its context being canceled")
		}
	})

	t.Run("concurrent writes all arrive", func(t *testing.T) {
		c, d := connected(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var want []string
		for range 8 {
			wg.Go(func() {
				for _, b := range batch(f.Records(5)) {
					if err := c.Write(ctx, b); err != nil {
						t.Errorf("Write: %v", err)
					}
					mu.Lock()
					want = append(want, ids(b)...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		got := d.Accepted()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("accepted %d records, wrote %d", len(got), len(want))
		}
	})
}

// recordErr is the error of record i of a Write's result.
func recordErr(err error, i int) error {
	var be *connectors.BatchError
	if errors.As(err, &be) && i < len(be.RecordErrors()) {
		return be.RecordErrors()[i]
	}
	return err
}

// Records builds n records: stage_changed events of new customers, each
// with its contact, idempotency key and first attempt.
func Records(n int) []mapping.OutboxRecord {
	out := make([]mapping.OutboxRecord, n)
	for i := range out {
		c := &mapping.Customer{ID: uuid.Must(uuid.NewV7()).String(), Version: 2,
			Traits: map[string]mapping.TraitValue{
				"email":      {Value: fmt.Sprintf("lead-%d-%d@example.com", i, time.Now().UnixNano())},
				"first_name": {Value: "Ana"}, "last_name": {Value: "Lima"}, "company": {Value: "Lima Consultoria"},
			}}
		c.Lifecycle.Stage, c.Lifecycle.StageEnteredAt = "marketingqualifiedlead", time.Now().UTC()
		ce, err := mapping.StageChangedEvent(c, mapping.LifecycleChange{StageFrom: "lead", StageTo: "marketingqualifiedlead",
			StageRule: "mql", Direction: "forward"}, mapping.PhaseQualification,
			mapping.Trigger{Source: "form", EventType: "form_submitted", OccurredAt: time.Now().UTC()})
		if err != nil {
			panic(err)
		}
		payload, err := mapping.MarshalCloudEvent(ce)
		if err != nil {
			panic(err)
		}
		out[i] = mapping.OutboxRecord{ID: int64(i + 1), EventID: ce.ID, CustomerID: c.ID, Type: ce.Type, Sequence: c.Version,
			Time: ce.Time, Payload: payload, IdempotencyKey: "test:" + ce.ID, Attempt: 1, Contact: mapping.ContactOf(c)}
	}
	return out
}
