package pgstore_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// Raw requests past their retention are purged in small batches; a
// request still waiting to be processed is kept whatever its age.
func TestRawRequestsPastRetentionArePurgedButPendingOnesKept(t *testing.T) {
	st, url := pgtest.Open(t)
	w := runWriter(t, st, pgstore.DefaultInboxWriterConfig())
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	for i, status := range []string{"done", "done", "quarantined", "rejected", "pending"} {
		r := rawRequest("form", "")
		r.ReceivedAt = old.Add(time.Duration(i) * time.Minute)
		if _, err := w.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		if status != "pending" {
			count(t, url, `WITH u AS (UPDATE inbox SET status = $1 WHERE request_id = $2 RETURNING 1) SELECT count(*) FROM u`, status, r.RequestID)
		}
	}
	if _, err := w.Append(ctx, rawRequest("form", "")); err != nil { // recent: kept
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := pipeline.DefaultRetentionConfig()
	cfg.BatchSize = 2
	var passes int
	r := pipeline.NewRetention(cfg, st, logrus.NewEntry(log), time.Now)
	r.OnPurge = func(int64, error) { passes++ }
	n, err := r.PurgeOnce(ctx)
	if err != nil || n != 4 {
		t.Fatalf("purged %d (err %v), want 4", n, err)
	}
	if passes < 3 {
		t.Errorf("%d delete statements, want batches of 2", passes)
	}
	if left := count(t, url, `SELECT count(*) FROM inbox`); left != 2 {
		t.Fatalf("%d rows left, want the old pending one and the recent one", left)
	}
}

// Published events leave the outbox once KeepPublished has passed;
// unpublished ones stay whatever their age.
func TestPublishedEventsArePrunedFromTheOutbox(t *testing.T) {
	st, url := pgtest.Open(t)
	ctx := context.Background()
	for i, published := range []string{"now() - interval '2 days'", "now() - interval '3 days'", "now()", "NULL", "NULL"} {
		count(t, url, `WITH i AS (
			INSERT INTO outbox (event_id, customer_id, bucket, type, sequence, event_time, payload, created_at, published_at)
			VALUES (gen_random_uuid(), gen_random_uuid(), 0, 't', $1, now(), '\x7b7d', now() - interval '5 days', `+published+`)
			RETURNING 1) SELECT count(*) FROM i`, i+1)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	r := pipeline.NewRetention(pipeline.DefaultRetentionConfig(), st, logrus.NewEntry(log), time.Now)
	r.KeepPublished = 24 * time.Hour
	var pruned int64
	r.OnPrune = func(n int64, _ error) { pruned += n }
	if _, err := r.PurgeOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if pruned != 2 {
		t.Fatalf("pruned %d, want the 2 events published days ago", pruned)
	}
	if left := count(t, url, `SELECT count(*) FROM outbox`); left != 3 {
		t.Fatalf("%d events left, want 3 (one just published, two unpublished)", left)
	}
}

// Finished deliveries (delivered or dead) are pruned after their
// retention; open ones (pending, in flight) are kept whatever their age.
func TestFinishedDeliveriesArePrunedAfterTheirRetention(t *testing.T) {
	st, url := pgtest.Open(t)
	ctx := context.Background()
	for _, row := range []struct{ status, finished string }{
		{"delivered", "now() - interval '40 days'"}, {"dead", "now() - interval '31 days'"},
		{"delivered", "now() - interval '1 day'"}, {"dead", "now()"},
		{"pending", "NULL"}, {"delivering", "NULL"},
	} {
		count(t, url, `WITH i AS (
			INSERT INTO deliveries (destination, event_id, customer_id, event_type, payload, status, created_at, finished_at)
			VALUES ('hook', gen_random_uuid(), gen_random_uuid(), 't', '\x7b7d', '`+row.status+`', now() - interval '60 days', `+row.finished+`)
			RETURNING 1) SELECT count(*) FROM i`)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	r := pipeline.NewRetention(pipeline.DefaultRetentionConfig(), st, logrus.NewEntry(log), time.Now)
	if _, err := r.PurgeOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if left := count(t, url, `SELECT count(*) FROM deliveries`); left != 4 {
		t.Fatalf("%d deliveries left, want 4 (two finished recently, two open)", left)
	}
}
