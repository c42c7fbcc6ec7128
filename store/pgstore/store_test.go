package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

func rawRequest(source, dedup string) *mapping.RawRequest {
	return &mapping.RawRequest{
		RequestID:  uuid.NewString(),
		Source:     source,
		Provider:   "form",
		Method:     "POST",
		Path:       "/hooks/" + source,
		Headers:    map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		Body:       []byte("email=a%40example.com"),
		ReceivedAt: time.Now().UTC(),
		DedupKey:   dedup,
	}
}

func runWriter(t *testing.T, st *pgstore.Store, cfg pgstore.InboxWriterConfig) *pgstore.InboxWriter {
	t.Helper()
	w := st.NewInboxWriter(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func count(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateIsIdempotentAndSafeForConcurrentReplicas(t *testing.T) {
	url := pgtest.URL(t) // already migrated from the template
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			applied, err := pgtest.Migrate(context.Background(), url)
			if err == nil && len(applied) != 0 {
				err = fmt.Errorf("re-applied %v", applied)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentAppendsShareGroupCommits(t *testing.T) {
	st, url := pgtest.Open(t)
	w := runWriter(t, st, pgstore.InboxWriterConfig{MaxBatch: 64, Flushers: 2})
	var batches, maxBatch atomic.Int64
	w.OnBatch = func(size int, _ time.Duration, err error) {
		if err != nil {
			t.Errorf("flush failed: %v", err)
		}
		batches.Add(1)
		for {
			cur := maxBatch.Load()
			if int64(size) <= cur || maxBatch.CompareAndSwap(cur, int64(size)) {
				break
			}
		}
	}
	const n = 400
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if dup, err := w.Append(context.Background(), rawRequest("form", "")); err != nil || dup {
				t.Errorf("append: dup=%v err=%v", dup, err)
			}
		})
	}
	wg.Wait()
	if got := count(t, url, `SELECT count(*) FROM inbox WHERE status = 'pending'`); got != n {
		t.Fatalf("stored %d requests, want %d", got, n)
	}
	if batches.Load() >= n || maxBatch.Load() < 2 {
		t.Fatalf("no group commit happened: %d flushes for %d requests (largest %d)", batches.Load(), n, maxBatch.Load())
	}
}

func TestRedeliveryWithTheSameDedupKeyIsStoredOnce(t *testing.T) {
	st, url := pgtest.Open(t)
	w := runWriter(t, st, pgstore.DefaultInboxWriterConfig())
	ctx := context.Background()
	if dup, err := w.Append(ctx, rawRequest("form", "lead-1")); err != nil || dup {
		t.Fatalf("first delivery: dup=%v err=%v", dup, err)
	}
	if dup, err := w.Append(ctx, rawRequest("form", "lead-1")); err != nil || !dup {
		t.Fatalf("redelivery: dup=%v err=%v, want duplicate", dup, err)
	}
	if dup, err := w.Append(ctx, rawRequest("other", "lead-1")); err != nil || dup {
		t.Fatalf("same key on another source: dup=%v err=%v, want stored", dup, err)
	}
	// Duplicates inside one group commit are caught too.
	var wg sync.WaitGroup
	var dups atomic.Int32
	for range 20 {
		wg.Go(func() {
			dup, err := w.Append(ctx, rawRequest("form", "lead-2"))
			if err != nil {
				t.Error(err)
			}
			if dup {
				dups.Add(1)
			}
		})
	}
	wg.Wait()
	if dups.Load() != 19 {
		t.Fatalf("%d of 20 concurrent deliveries were duplicates, want 19", dups.Load())
	}
	if got := count(t, url, `SELECT count(*) FROM inbox`); got != 3 {
		t.Fatalf("inbox has %d rows, want 3", got)
	}
}

// A content hash is keyed by its dedup window; its twin stored in the
// window before is a duplicate too, so a double submit across a window
// boundary is stored once.
func TestTheSameContentInThePreviousWindowIsADuplicate(t *testing.T) {
	st, url := pgtest.Open(t)
	w := runWriter(t, st, pgstore.DefaultInboxWriterConfig())
	ctx := context.Background()
	first := rawRequest("form", "sha256:abc:41")
	if dup, err := w.Append(ctx, first); err != nil || dup {
		t.Fatalf("first: dup=%v err=%v", dup, err)
	}
	next := rawRequest("form", "sha256:abc:42")
	next.PriorDedupKey = "sha256:abc:41"
	if dup, err := w.Append(ctx, next); err != nil || !dup {
		t.Fatalf("the twin one window later: dup=%v err=%v, want duplicate", dup, err)
	}
	later := rawRequest("form", "sha256:abc:44")
	later.PriorDedupKey = "sha256:abc:43"
	if dup, err := w.Append(ctx, later); err != nil || dup {
		t.Fatalf("the same content two windows later: dup=%v err=%v, want stored", dup, err)
	}
	if got := count(t, url, `SELECT count(*) FROM inbox`); got != 2 {
		t.Fatalf("inbox has %d rows, want 2", got)
	}
}

func TestRejectedRequestsAreKeptButNeverClaimed(t *testing.T) {
	st, url := pgtest.Open(t)
	w := runWriter(t, st, pgstore.DefaultInboxWriterConfig())
	if err := w.Reject(context.Background(), rawRequest("form", ""), "invalid JSON"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, url, `SELECT count(*) FROM inbox WHERE status = 'rejected' AND reason = 'invalid JSON'`); got != 1 {
		t.Fatalf("rejected rows = %d, want 1", got)
	}
	b, err := st.Claim(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback(context.Background())
	if len(b.Requests()) != 0 {
		t.Fatalf("claimed %d rejected requests", len(b.Requests()))
	}
}

func TestConcurrentClaimsNeverOverlap(t *testing.T) {
	st, _ := pgtest.Open(t)
	w := runWriter(t, st, pgstore.DefaultInboxWriterConfig())
	ctx := context.Background()
	for range 10 {
		if _, err := w.Append(ctx, rawRequest("form", "")); err != nil {
			t.Fatal(err)
		}
	}
	a, err := st.Claim(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback(ctx)
	b, err := st.Claim(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback(ctx)
	if len(a.Requests()) != 6 || len(b.Requests()) != 4 {
		t.Fatalf("claims got %d and %d requests, want 6 and 4", len(a.Requests()), len(b.Requests()))
	}
	seen := map[int64]bool{}
	for _, r := range append(a.Requests(), b.Requests()...) {
		if seen[r.ID] {
			t.Fatalf("request %d claimed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Headers["Content-Type"] == "" || len(r.Body) == 0 {
			t.Fatalf("claimed request lost its headers or body: %+v", r)
		}
	}
}

func TestAppendAfterStopAnswersClosed(t *testing.T) {
	st, _ := pgtest.Open(t)
	w := st.NewInboxWriter(pgstore.DefaultInboxWriterConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = w.Run(ctx)
	if _, err := w.Append(context.Background(), rawRequest("form", "")); err != pgstore.ErrWriterClosed {
		t.Fatalf("append after stop: %v, want ErrWriterClosed", err)
	}
}

func TestOverloadedWriterShedsWhatWaitedTooLongAndWritesNothingOfIt(t *testing.T) {
	st, url := pgtest.Open(t)
	w := runWriter(t, st, pgstore.InboxWriterConfig{MaxBatch: 1, Flushers: 1, MaxWait: 100 * time.Millisecond})
	ctx := context.Background()

	// Hold the inbox so the only flusher blocks on its first INSERT: the
	// queue (one place) fills and the rest wait past max_wait.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE inbox IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var (
		wg               sync.WaitGroup
		stored, shed     atomic.Int32
		releaseAfterShed = make(chan struct{}, n)
	)
	for range n {
		wg.Go(func() {
			_, err := w.Append(ctx, rawRequest("form", ""))
			var over *pgstore.OverloadedError
			switch {
			case err == nil:
				stored.Add(1)
			case errors.As(err, &over):
				if over.RetryAfter() != time.Second {
					t.Errorf("RetryAfter = %s, want 1s", over.RetryAfter())
				}
				shed.Add(1)
				releaseAfterShed <- struct{}{}
			default:
				t.Errorf("append: %v", err)
			}
		})
	}
	// Once most were shed, let the blocked flush commit.
	for range n - 2 {
		<-releaseAfterShed
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if shed.Load() < n-2 || stored.Load()+shed.Load() != n {
		t.Fatalf("stored %d, shed %d of %d", stored.Load(), shed.Load(), n)
	}
	if got := count(t, url, `SELECT count(*) FROM inbox`); got != int(stored.Load()) {
		t.Fatalf("inbox holds %d requests, but %d were acked: a shed request was written or an acked one lost", got, stored.Load())
	}
}
