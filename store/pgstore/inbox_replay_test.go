package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// inboxRow is a stored request for the replay tests.
type inboxRow struct {
	name     string
	source   string
	received time.Time
	status   string
	// wiped: body and headers emptied in place; applied: it has a
	// timeline entry; fetched: API documents are stored with it.
	wiped, applied, fetched bool
}

// storeInbox inserts the rows and returns their ids by name.
func storeInbox(t *testing.T, url string, rows []inboxRow) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ids := map[string]int64{}
	for _, r := range rows {
		body, headers := []byte(`{"email":"a@example.com"}`), `{"Content-Type":"application/json"}`
		if r.wiped {
			body, headers = []byte{}, `{}`
		}
		var fetched *string
		if r.fetched {
			fetched = ptr(`{"0":{"lead":{"id":"1"}}}`)
		}
		var id int64
		err := conn.QueryRow(ctx, `
			INSERT INTO inbox (request_id, source, provider, method, path, headers, body, received_at, status,
			                   attempts, reason, processed_at, needs_fetch, fetched)
			VALUES (gen_random_uuid(), $1::text, 'form', 'POST', '/hooks/' || $1::text, $2::jsonb, $3::bytea, $4::timestamptz, $5::text,
			        CASE WHEN $5::text = 'pending' THEN 0 ELSE 3 END, CASE WHEN $5::text = 'pending' THEN NULL ELSE 'earlier outcome' END,
			        CASE WHEN $5::text = 'pending' THEN NULL ELSE $4::timestamptz END, $6::boolean, $7::jsonb)
			RETURNING id`, r.source, headers, body, r.received, r.status, r.fetched, fetched).Scan(&id)
		if err != nil {
			t.Fatalf("store %s: %v", r.name, err)
		}
		if r.applied {
			if _, err := conn.Exec(ctx, `
				INSERT INTO customers (id, version, created_at, updated_at) VALUES (gen_random_uuid(), 1, now(), now());
				`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `
				INSERT INTO timeline (customer_id, inbox_id, source, type, occurred_at)
				SELECT id, $1, $2, 'form_submitted', now() FROM customers ORDER BY created_at DESC LIMIT 1`, id, r.source); err != nil {
				t.Fatal(err)
			}
		}
		ids[r.name] = id
	}
	return ids
}

// inboxState is a stored request's processing state.
type inboxState struct {
	status    string
	attempts  int
	reason    *string
	processed bool
	fetched   bool
}

func readInbox(t *testing.T, url string, id int64) inboxState {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s inboxState
	if err := conn.QueryRow(ctx, `SELECT status, attempts, reason, processed_at IS NOT NULL, fetched IS NOT NULL FROM inbox WHERE id = $1`, id).
		Scan(&s.status, &s.attempts, &s.reason, &s.processed, &s.fetched); err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	replayFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	replayTo   = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
)

// replayWorld has one request of each kind in the range, requests on and
// just outside its bounds, and another source's requests. Several share
// a received_at, so batches of 2 split ties.
func replayWorld() []inboxRow {
	at := replayFrom.Add(6 * time.Hour)
	return []inboxRow{
		{name: "at from", source: "typeform", received: replayFrom, status: "quarantined"},
		{name: "quarantined", source: "typeform", received: at, status: "quarantined", fetched: true},
		{name: "rejected", source: "typeform", received: at, status: "rejected"},
		{name: "done without effects", source: "typeform", received: at, status: "done"},
		{name: "done and applied", source: "typeform", received: at, status: "done", applied: true},
		{name: "pending", source: "typeform", received: at, status: "pending"},
		{name: "erased", source: "typeform", received: at, status: "erased", wiped: true},
		{name: "suppressed", source: "typeform", received: at.Add(time.Hour), status: "suppressed", wiped: true},
		{name: "done, payload wiped in place", source: "typeform", received: at.Add(time.Hour), status: "done", wiped: true},
		{name: "just before to", source: "typeform", received: replayTo.Add(-time.Microsecond), status: "done"},
		{name: "at to", source: "typeform", received: replayTo, status: "quarantined"},
		{name: "just before from", source: "typeform", received: replayFrom.Add(-time.Microsecond), status: "quarantined"},
		{name: "another source", source: "webflow", received: at, status: "quarantined"},
	}
}

func TestInboxReplayQueuesWhatCanBeProcessedAgainWithoutCountingTwice(t *testing.T) {
	for _, batch := range []int{0, 2, 3} {
		t.Run("in batches of "+map[int]string{0: "the default size", 2: "two", 3: "three"}[batch], func(t *testing.T) {
			st, url := pgtest.Open(t)
			ids := storeInbox(t, url, replayWorld())
			ctx := context.Background()
			q := pgstore.InboxReplay{Source: "typeform", From: replayFrom, To: replayTo, BatchSize: batch}

			dry := q
			dry.DryRun = true
			res, err := st.ReplayInbox(ctx, dry)
			if err != nil {
				t.Fatal(err)
			}
			want := pgstore.InboxReplayResult{Queued: 5, SkippedPurged: 3, SkippedApplied: 1, AlreadyPending: 1, DryRun: true}
			if *res != want {
				t.Fatalf("dry run %+v, want %+v", *res, want)
			}
			if s := readInbox(t, url, ids["quarantined"]); s.status != "quarantined" || s.attempts != 3 {
				t.Fatalf("a dry run changed a request: %+v", s)
			}

			res, err = st.ReplayInbox(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want.DryRun = false
			if *res != want {
				t.Fatalf("replay %+v, want %+v", *res, want)
			}
			for name, wantStatus := range map[string]string{
				"at from": "pending", "quarantined": "pending", "rejected": "pending", "done without effects": "pending",
				"just before to": "pending", "pending": "pending",
				"done and applied": "done", "erased": "erased", "suppressed": "suppressed", "done, payload wiped in place": "done",
				"at to": "quarantined", "just before from": "quarantined", "another source": "quarantined",
			} {
				s := readInbox(t, url, ids[name])
				if s.status != wantStatus {
					t.Errorf("%s: status %s, want %s", name, s.status, wantStatus)
				}
				if wantStatus == "pending" && name != "pending" && (s.attempts != 0 || s.reason != nil || s.processed) {
					t.Errorf("%s: queued with attempts %d, reason %v, processed %v; want a fresh start", name, s.attempts, s.reason, s.processed)
				}
			}
			if s := readInbox(t, url, ids["quarantined"]); !s.fetched {
				t.Error("the stored API documents were dropped without refetch")
			}
			// The queued requests are claimable at once.
			b, err := st.Claim(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			claimed := len(b.Requests())
			if err := b.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if claimed != 6 { // the 5 queued and the one already pending
				t.Errorf("%d claimable, want 6", claimed)
			}

			// Once more: what was queued is pending now, nothing is queued twice.
			res, err = st.ReplayInbox(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := (pgstore.InboxReplayResult{SkippedPurged: 3, SkippedApplied: 1, AlreadyPending: 6}); *res != want {
				t.Errorf("second replay %+v, want %+v", *res, want)
			}
		})
	}
}

func TestInboxReplayWithRefetchDropsTheStoredDocuments(t *testing.T) {
	st, url := pgtest.Open(t)
	ids := storeInbox(t, url, []inboxRow{{name: "q", source: "meta", received: replayFrom, status: "quarantined", fetched: true}})
	res, err := st.ReplayInbox(context.Background(), pgstore.InboxReplay{Source: "meta", From: replayFrom, To: replayTo, Refetch: true})
	if err != nil || res.Queued != 1 {
		t.Fatalf("replay %+v, %v", res, err)
	}
	if s := readInbox(t, url, ids["q"]); s.status != "pending" || s.fetched {
		t.Errorf("state %+v, want pending without documents (to be fetched again)", s)
	}
}

func TestInboxReplayOfAnEmptyRangeQueuesNothing(t *testing.T) {
	st, url := pgtest.Open(t)
	storeInbox(t, url, replayWorld())
	res, err := st.ReplayInbox(context.Background(), pgstore.InboxReplay{Source: "typeform", From: replayTo.Add(time.Hour), To: replayTo.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if *res != (pgstore.InboxReplayResult{}) {
		t.Errorf("result %+v, want all zero", *res)
	}
}

func TestInboxReplayRefusesAnInvalidRange(t *testing.T) {
	st, _ := pgtest.Open(t)
	for _, tt := range []struct {
		name string
		q    pgstore.InboxReplay
	}{
		{"a replay without a source is refused", pgstore.InboxReplay{From: replayFrom, To: replayTo}},
		{"a replay without a range is refused", pgstore.InboxReplay{Source: "typeform"}},
		{"a range that ends before it starts is refused", pgstore.InboxReplay{Source: "typeform", From: replayTo, To: replayFrom}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.ReplayInbox(context.Background(), tt.q); !errors.Is(err, pgstore.ErrInvalidReplay) {
				t.Errorf("err %v, want ErrInvalidReplay", err)
			}
		})
	}
}
