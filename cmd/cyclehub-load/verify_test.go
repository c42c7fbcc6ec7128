package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// The loss check finds each kind of failure it names, in a database where
// each was planted by hand, and passes the requests that are fine.
func TestLossCheckFindsWhatWasPlanted(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// An event from before the run stays under the watermark.
	old := uuid.New()
	exec(`INSERT INTO customers (id, version, created_at, updated_at) VALUES ($1, 1, now(), now())`, old)
	exec(`INSERT INTO outbox (event_id, customer_id, bucket, type, sequence, event_time, payload)
		VALUES (gen_random_uuid(), $1, 0, 'cyclehub.customer.created.v1', 1, now(), '{}')`, old)

	v, err := openVerifier(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer v.close(ctx)

	customer := func() uuid.UUID {
		id := uuid.New()
		exec(`INSERT INTO customers (id, version, created_at, updated_at) VALUES ($1, 1, now(), now())`, id)
		return id
	}
	request := func(status string) uuid.UUID {
		id := uuid.New()
		exec(`INSERT INTO inbox (request_id, source, provider, method, path, headers, body, received_at, status)
			VALUES ($1, 'form', 'form', 'POST', '/hooks/form', '{}', 'x', now(), $2)`, id, status)
		return id
	}
	entry := func(req, cust uuid.UUID, record int) {
		exec(`INSERT INTO timeline (customer_id, inbox_id, record_index, source, type, occurred_at)
			SELECT $2, id, $3, 'form', 'form_submitted', now() FROM inbox WHERE request_id = $1`, req, cust, record)
	}
	event := func(req, cust uuid.UUID, typ string) uuid.UUID {
		id := uuid.New()
		payload := fmt.Sprintf(`{"id":%q,"data":{"trigger":{"request_id":%q}}}`, id, req)
		exec(`INSERT INTO outbox (event_id, customer_id, bucket, type, sequence, event_time, payload)
			VALUES ($1, $2, 0, $3, 1, now(), convert_to($4, 'UTF8'))`, id, cust, typ, payload)
		return id
	}

	track := newTracker(time.Now())
	acked := map[uuid.UUID]ack{}
	person := int32(0)
	add := func(id uuid.UUID, p int32) { acked[id] = ack{person: p} }
	seen := func(ev uuid.UUID) { track.event(ev, uuid.Nil, time.Now()) }

	// Fine: one entry, its event read (twice: a redelivery is fine).
	c1 := customer()
	ok := request("done")
	entry(ok, c1, 0)
	e := event(ok, c1, "cyclehub.customer.created.v1")
	seen(e)
	seen(e)
	add(ok, person)
	// Fine: the same person again, changing nothing (no event).
	again := request("done")
	entry(again, c1, 0)
	add(again, person)
	person++

	// Lost: acked, never stored; stored, never processed; processed
	// without an entry; its event never read.
	add(uuid.New(), person)
	person++
	pending := request("pending")
	add(pending, person)
	person++
	c2 := customer()
	noEntry := request("done")
	seen(event(noEntry, c2, "cyclehub.customer.created.v1"))
	add(noEntry, person)
	person++
	c3 := customer()
	unseen := request("done")
	entry(unseen, c3, 0)
	event(unseen, c3, "cyclehub.customer.created.v1")
	add(unseen, person)
	person++

	// Quarantined.
	q := request("quarantined")
	add(q, person)
	person++

	// Duplicated: two entries of one record is impossible (unique key), so
	// two created events for one customer from one request.
	c4 := customer()
	dup := request("done")
	entry(dup, c4, 0)
	seen(event(dup, c4, "cyclehub.customer.created.v1"))
	seen(event(dup, c4, "cyclehub.customer.updated.v1"))
	add(dup, person)
	person++

	// Split: one person on two customers.
	c5, c6 := customer(), customer()
	s1, s2 := request("done"), request("done")
	entry(s1, c5, 0)
	entry(s2, c6, 0)
	seen(event(s1, c5, "cyclehub.customer.created.v1"))
	seen(event(s2, c6, "cyclehub.customer.created.v1"))
	add(s1, person)
	add(s2, person)
	person++

	// A person whose only request wrote no event.
	c7 := customer()
	silent := request("done")
	entry(silent, c7, 0)
	add(silent, person)

	got, err := v.check(ctx, acked, track, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := verdict{Acked: 11, Processed: 8, MissingInbox: 1, Unprocessed: 1, NoTimeline: 1, Quarantined: 1,
		Duplicated: 1, SplitPeople: 1, People: 9}
	// lost: missing, pending, no entry, unseen event + the silent person.
	want.Lost = 5
	if got.Acked != want.Acked || got.Processed != want.Processed || got.MissingInbox != want.MissingInbox ||
		got.Unprocessed != want.Unprocessed || got.NoTimeline != want.NoTimeline || got.Quarantined != want.Quarantined ||
		got.Duplicated != want.Duplicated || got.SplitPeople != want.SplitPeople || got.People != want.People || got.Lost != want.Lost {
		t.Errorf("verdict %+v\nwant    %+v", *got, want)
	}
	s := got.Stream
	if s == nil || s.EventsExpected != 7 || s.EventsSeen != 6 || s.Redelivered != 1 || s.LostRequests != 1 ||
		s.PeopleWithoutEvent != 1 || s.NoEvent != 2 {
		t.Errorf("stream %+v", s)
	}
	if got.OK() {
		t.Error("OK with failures planted")
	}
	for _, kind := range []string{"missing_inbox", "unprocessed", "no_timeline", "stream_missing", "quarantined", "duplicated"} {
		if len(got.Examples[kind]) == 0 {
			t.Errorf("no example of %s", kind)
		}
	}

	// The fine requests alone pass.
	fine := map[uuid.UUID]ack{ok: acked[ok], again: acked[again]}
	got, err = v.check(ctx, fine, track, true, time.Now())
	if err != nil || !got.OK() || got.Stream.EventsExpected != 1 || got.Stream.NoEvent != 1 {
		t.Fatalf("the fine requests: %+v %+v, %v", got, got.Stream, err)
	}
}
