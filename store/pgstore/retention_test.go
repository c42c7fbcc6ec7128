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
